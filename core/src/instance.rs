//! One instance of a guest: the [`Instance`] trait every engine's instance
//! implements, written once over the few [`Bindings`] an engine supplies.

use alloc::format;
use alloc::vec::Vec;
use core::fmt;

use crate::abi::{DRAIN_BUFFER, FILL_BUFFER};
use crate::error::{Error, ErrorKind, Result};
use crate::host::{BoxedState, HostData, StateSlot};
use crate::memory::{GuestMemory, result_range};
use crate::sink::BoxedSink;
use crate::stream::{BoxedSource, StreamOptions, StreamStats};

/// One instance of a guest with its own memory, streams and host state.
///
/// Object safe: `&mut dyn Instance` works for code that does not care which
/// engine runs the guest. [`InstanceExt`] adds the generic conveniences.
/// Every engine's instance is also `Send` ([`crate::LinkedModule::Instance`]
/// says so); the trait itself does not ask it, so that an engine can build
/// its `Send` instance on a thread-bound one (wasmer's).
pub trait Instance {
    /// Opens one stream of `source` as `options` say, in one checked step:
    /// checks it ([`crate::HostStreams::plan`]), has the guest allocate a
    /// buffer (`__frnt__initiate_buffer`), checks the buffer and writes the
    /// header and first chunk (or, for [`crate::Placement::Whole`], all of
    /// the payload). Returns the address of the buffer's descriptor: the
    /// argument to pass to the export.
    fn open_stream(&mut self, source: BoxedSource, options: StreamOptions) -> Result<i64>;

    /// Opens an output stream into `sink` (`docs/protocol.md`, "Streaming
    /// out"): checks it ([`crate::HostStreams::plan_output`]), has the guest
    /// allocate a buffer (`__frnt__initiate_buffer` of the chunk size, or
    /// `options`' own), checks the buffer and sets both cursor cells to 0.
    /// Returns the address of the buffer's descriptor: the argument to pass
    /// to the export. The guest hands its bytes over with
    /// `refill_io.__refill__drain_buffer`; what is left when the export
    /// returns is drained then, and the sink finished.
    fn open_output(&mut self, sink: BoxedSink, options: StreamOptions) -> Result<i64>;

    /// Calls an export whose parameters and result are all `i64`. When it
    /// returns, each output stream is drained a last time and its sink
    /// finished; every open stream is released when it returns or traps.
    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64>;

    /// Releases every open stream without calling the guest.
    fn close_streams(&mut self);

    /// Copies `len` bytes of guest memory at `addr`, checked against its size.
    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>>;

    /// The live size of the guest's linear memory in bytes.
    fn memory_size(&self) -> u64;

    /// Counters of the streaming work done by this instance so far.
    fn stats(&self) -> StreamStats;

    /// The id this instance was given when it was instantiated.
    fn instance_id(&self) -> i64;

    /// Takes the state of slot `index` out of the instance (see
    /// [`HostData::take_state`]); [`InstanceExt::with_state`] is the typed way.
    fn take_state(&mut self, index: usize) -> Result<BoxedState>;

    /// Puts a state back into slot `index` (see [`HostData::put_state`]).
    fn put_state(&mut self, index: usize, state: BoxedState) -> Result<()>;
}

/// Conveniences over any [`Instance`], engine-specific or `dyn`.
pub trait InstanceExt: Instance {
    /// Opens one refilled stream per source, in order, and calls `export`
    /// with their descriptor addresses. A stream that cannot be opened
    /// releases those already open.
    fn call_with_streams(
        &mut self,
        export: &str,
        sources: impl IntoIterator<Item = BoxedSource>,
    ) -> Result<i64> {
        let mut args = Vec::new();
        for source in sources {
            match self.open_stream(source, StreamOptions::new()) {
                Ok(descriptor) => args.push(descriptor),
                Err(e) => {
                    self.close_streams();
                    return Err(e);
                }
            }
        }
        self.call(export, &args)
    }

    /// Runs `f` on the instance's state in `slot`, between guest calls.
    fn with_state<T: Send + 'static, R>(
        &mut self,
        slot: StateSlot<T>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<R> {
        let state = self.take_state(slot.index())?;
        let mut state = match state.downcast::<T>() {
            Ok(state) => state,
            Err(other) => {
                self.put_state(slot.index(), other)?;
                return Err(Error::new(
                    ErrorKind::HostFunction,
                    format!(
                        "state slot {} does not hold a {}",
                        slot.index(),
                        core::any::type_name::<T>()
                    ),
                ));
            }
        };
        let result = f(&mut state);
        self.put_state(slot.index(), state)?;
        Ok(result)
    }
}

impl<I: Instance + ?Sized> InstanceExt for I {}

/// The few things an engine binding supplies for one instance. Everything
/// else an [`Instance`] does is engine-neutral and written once, here, over
/// this trait; every binding is an [`Instance`].
pub trait Bindings {
    /// Calls the guest's `__frnt__initiate_buffer(capacity)`.
    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64>;

    /// Calls `export` (never the refill import) with `args`, after checking
    /// its type with [`check_entry_signature`].
    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64>;

    /// Lends the guest's memory and the instance's host data at once.
    fn with_memory<R>(&mut self, f: impl FnOnce(&mut dyn GuestMemory, &mut HostData) -> R) -> R;

    /// The live size of the guest's memory in bytes.
    fn memory_size(&self) -> u64;

    /// Copies guest memory at `addr` into `dst`; the range has been checked
    /// against [`Bindings::memory_size`] (the engine checks it again).
    fn read_guest(&self, addr: u32, dst: &mut [u8]) -> Result<()>;

    /// The instance's host data.
    fn host_data(&self) -> &HostData;

    /// The instance's host data, mutably.
    fn host_data_mut(&mut self) -> &mut HostData;
}

/// One guest call in progress on a [`Bindings`]: entered (refused if the
/// instance is poisoned), then left when the call returns. If it is dropped
/// without being left, a panic is unwinding through the call: the instance
/// stays poisoned ([`HostData::enter_call`]) and its streams are released
/// there and then, their sources dropped, so nothing of the call leaks into
/// the next.
pub(crate) struct CallGuard<'a, B: Bindings + ?Sized> {
    pub(crate) bindings: &'a mut B,
    left: bool,
}

impl<'a, B: Bindings + ?Sized> CallGuard<'a, B> {
    pub(crate) fn enter(bindings: &'a mut B) -> Result<Self> {
        if let Err(poisoned) = bindings.host_data_mut().enter_call() {
            bindings.host_data_mut().release_streams();
            return Err(poisoned);
        }
        Ok(Self {
            bindings,
            left: false,
        })
    }

    pub(crate) fn leave(mut self) {
        self.left = true;
        self.bindings.host_data_mut().leave_call();
    }
}

impl<B: Bindings + ?Sized> Drop for CallGuard<'_, B> {
    fn drop(&mut self) {
        if !self.left {
            self.bindings.host_data_mut().release_streams();
        }
    }
}

impl<B: Bindings> Instance for B {
    fn open_stream(&mut self, source: BoxedSource, options: StreamOptions) -> Result<i64> {
        let guard = CallGuard::enter(self)?;
        let b = &mut *guard.bindings;
        let opened = b
            .host_data()
            .streams()
            .plan(&*source, options)
            .and_then(|plan| Ok((plan, b.initiate_buffer(plan.capacity())?)))
            .and_then(|(plan, descriptor)| {
                b.with_memory(|memory, data| {
                    data.streams_mut().open(memory, descriptor, source, plan)
                })?;
                Ok(descriptor)
            });
        guard.leave();
        opened
    }

    fn open_output(&mut self, sink: BoxedSink, options: StreamOptions) -> Result<i64> {
        let guard = CallGuard::enter(self)?;
        let b = &mut *guard.bindings;
        let opened = b
            .host_data()
            .streams()
            .plan_output(options)
            .and_then(|capacity| Ok((capacity, b.initiate_buffer(capacity)?)))
            .and_then(|(capacity, descriptor)| {
                b.with_memory(|memory, data| {
                    data.streams_mut()
                        .open_output(memory, descriptor, sink, capacity)
                })?;
                Ok(descriptor)
            });
        guard.leave();
        opened
    }

    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let guard = CallGuard::enter(self)?;
        let result = check_callable(export).and_then(|()| guard.bindings.invoke(export, args));
        let result = result.and_then(|value| {
            guard
                .bindings
                .with_memory(|memory, data| data.streams_mut().finish_outputs(memory))
                .map(|()| value)
        });
        guard.bindings.close_streams();
        guard.leave();
        result
    }

    fn close_streams(&mut self) {
        self.host_data_mut().release_streams();
    }

    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
        let range = result_range(addr, len, Bindings::memory_size(self))?;
        let mut out = alloc::vec![0; range.len() as usize];
        self.read_guest(range.start(), &mut out)?;
        Ok(out)
    }

    fn memory_size(&self) -> u64 {
        Bindings::memory_size(self)
    }

    fn stats(&self) -> StreamStats {
        self.host_data().streams().stats()
    }

    fn instance_id(&self) -> i64 {
        self.host_data().streams().instance_id()
    }

    fn take_state(&mut self, index: usize) -> Result<BoxedState> {
        self.host_data_mut().take_state(index)
    }

    fn put_state(&mut self, index: usize, state: BoxedState) -> Result<()> {
        self.host_data_mut().put_state(index, state)
    }
}

/// Refuses to call the host's own stream imports as an export: they are
/// never the guest's to re-export and call.
pub(crate) fn check_callable(export: &str) -> Result<()> {
    if export == FILL_BUFFER || export == DRAIN_BUFFER {
        return Err(Error::missing_export(export));
    }
    Ok(())
}

/// Checks that an entry point takes exactly one `i64` per argument and
/// returns one `i64`. `params` and `results` say, per value type, whether it
/// is `i64`; `found` is the engine's type, for the message.
pub fn check_entry_signature(
    export: &str,
    args: usize,
    params: impl ExactSizeIterator<Item = bool>,
    mut results: impl ExactSizeIterator<Item = bool>,
    found: impl fmt::Debug,
) -> Result<()> {
    let params_ok = params.len() == args && params.into_iter().all(|is_i64| is_i64);
    let results_ok = results.len() == 1 && results.all(|is_i64| is_i64);
    if params_ok && results_ok {
        return Ok(());
    }
    let expected = format!("({}) -> i64", alloc::vec!["i64"; args].join(", "));
    Err(Error::signature_mismatch(export, &expected, found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_take_one_i64_per_argument_and_return_one() {
        let ok = |p: &[bool], r: &[bool], n| {
            check_entry_signature("f", n, p.iter().copied(), r.iter().copied(), "ty").is_ok()
        };
        assert!(ok(&[true, true], &[true], 2));
        assert!(ok(&[], &[true], 0));
        assert!(!ok(&[true], &[true], 2));
        assert!(!ok(&[true, false], &[true], 2));
        assert!(!ok(&[true], &[], 1));
        assert!(!ok(&[true], &[true, true], 1));
        assert!(!ok(&[true], &[false], 1));
        let e = check_entry_signature("f", 1, [false].into_iter(), [true].into_iter(), "ty");
        assert_eq!(e.unwrap_err().kind(), ErrorKind::SignatureMismatch);
    }
}
