//! The small, statically dispatched surface every engine crate implements.
//!
//! An [`Engine`] compiles a [`Module`]; a module makes [`Instance`]s; an
//! instance streams payloads into its guest and calls exports. Everything that
//! does not depend on the engine (the layout, the state machine, the checks)
//! lives in [`crate::stream`]; an engine only adapts its memory and binds the
//! import.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::abi::{DEFAULT_CHUNK_SIZE, FILL_BUFFER};
use crate::error::{Error, Result};
use crate::limits::{EngineConfig, Limits};
use crate::memory::{GuestMemory, read_back};
use crate::stream::{BoxedSource, HostStreams, StreamStats};

/// How an instance is set up.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The id passed to `__frnt_set_id`; the only id the instance's refill
    /// calls are accepted with. Unique per process by default.
    pub instance_id: i64,
    /// The chunk size of every stream, in bytes (default 64 KiB).
    pub chunk_size: u32,
    /// What the instance may use.
    pub limits: Limits,
}

// 32-bit so that targets without 64-bit atomics (Cortex-M) build too.
static NEXT_INSTANCE_ID: AtomicU32 = AtomicU32::new(1);

impl Default for InstanceConfig {
    fn default() -> Self {
        Self {
            instance_id: i64::from(NEXT_INSTANCE_ID.fetch_add(1, Ordering::Relaxed)),
            chunk_size: DEFAULT_CHUNK_SIZE,
            limits: Limits::default(),
        }
    }
}

impl InstanceConfig {
    /// The defaults: a fresh instance id and 64 KiB chunks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the chunk size in bytes.
    #[must_use]
    pub fn with_chunk_size(mut self, chunk_size: u32) -> Self {
        self.chunk_size = chunk_size;
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the instance id.
    #[must_use]
    pub fn with_instance_id(mut self, instance_id: i64) -> Self {
        self.instance_id = instance_id;
        self
    }
}

/// A WebAssembly runtime bound to the refill ABI.
pub trait Engine: Clone + Send + Sync + 'static {
    /// A compiled module of this engine.
    type Module: Module;

    /// The engine's name as the CLI and the docs spell it (`wasmi`, ...).
    const NAME: &'static str;

    /// An engine built for `config`.
    fn with_config(config: &EngineConfig) -> Result<Self>;

    /// Validates and compiles a WebAssembly binary.
    fn compile(&self, wasm: &[u8]) -> Result<Self::Module>;
}

/// A compiled module, ready to be instantiated any number of times.
pub trait Module: Send + Sync {
    /// An instance of this module.
    type Instance: Instance;

    /// Instantiates the module with the refill import, checks the `memory`
    /// and `__frnt__initiate_buffer` exports, and calls `__frnt_set_id` when
    /// the module exports it.
    fn instantiate(&self, config: &InstanceConfig) -> Result<Self::Instance>;

    /// Every import of the module as `(module, name)`, in the module's order.
    fn imports(&self) -> Vec<(String, String)>;
}

/// One instance of a guest with its own memory and streams.
pub trait Instance: Send {
    /// Allocates a buffer in the guest (`__frnt__initiate_buffer`), primes it
    /// with the header and first chunk of `source`, and returns the address of
    /// its descriptor: the argument to pass to the export.
    fn open_stream(&mut self, source: BoxedSource) -> Result<i64>;

    /// Calls an export whose parameters and result are all `i64`. Every open
    /// stream is released when it returns or traps.
    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64>;

    /// [`Instance::open_stream`] with a chunk size for this stream alone
    /// (checked against the limits), instead of the instance's.
    fn open_stream_with_chunk(&mut self, source: BoxedSource, chunk_size: u32) -> Result<i64>;

    /// Allocates a buffer as large as the whole payload of `source` and
    /// writes all of it there at once, with no header and no refills: the
    /// one-shot protocol of contracts built before the streaming ABI (see
    /// [`HostStreams::place_whole`]). Returns the descriptor address.
    fn place_whole(&mut self, source: BoxedSource) -> Result<i64>;

    /// Releases every open stream without calling the guest.
    fn close_streams(&mut self);

    /// Copies `len` bytes of guest memory at `addr`, checked against its size.
    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>>;

    /// The live size of the guest's linear memory in bytes.
    fn memory_size(&self) -> u64;

    /// Counters of the streaming work done by this instance so far.
    fn stats(&self) -> StreamStats;

    /// The id this instance was given.
    fn instance_id(&self) -> i64;

    /// Streams each source as one argument, in order, and calls `export` with
    /// their descriptor addresses.
    fn call_with_streams(
        &mut self,
        export: &str,
        sources: impl IntoIterator<Item = BoxedSource>,
    ) -> Result<i64>
    where
        Self: Sized,
    {
        let mut args = Vec::new();
        for source in sources {
            match self.open_stream(source) {
                Ok(descriptor) => args.push(descriptor),
                Err(e) => {
                    self.close_streams();
                    return Err(e);
                }
            }
        }
        self.call(export, &args)
    }
}

/// The few things an engine binding supplies for one instance. Everything
/// else an [`Instance`] does is engine-neutral and written once, in
/// [`bindings`], over this trait; a `Send` binding is an [`Instance`].
pub trait Bindings {
    /// The engine's view of guest memory.
    type Memory<'a>: GuestMemory + ?Sized
    where
        Self: 'a;

    /// Calls the guest's `__frnt__initiate_buffer(capacity)`.
    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64>;

    /// Calls `export` (never the refill import) with `args`, after checking
    /// its type with [`check_entry_signature`].
    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64>;

    /// Lends the guest's memory and the instance's streams at once.
    fn with_memory<R>(&mut self, f: impl FnOnce(&mut Self::Memory<'_>, &mut HostStreams) -> R)
    -> R;

    /// Lends the guest's memory for reading.
    fn view_memory<R>(&self, f: impl FnOnce(&Self::Memory<'_>) -> R) -> R;

    /// The instance's streams.
    fn streams(&self) -> &HostStreams;

    /// The instance's streams, mutably.
    fn streams_mut(&mut self) -> &mut HostStreams;
}

/// The engine-neutral half of every engine's [`Instance`], over [`Bindings`].
pub mod bindings {
    use super::*;

    /// See [`Instance::open_stream`].
    pub fn open_stream(b: &mut impl Bindings, source: BoxedSource) -> Result<i64> {
        let chunk_size = b.streams().chunk_size();
        open_stream_with_chunk(b, source, chunk_size)
    }

    /// See [`Instance::open_stream_with_chunk`].
    pub fn open_stream_with_chunk(
        b: &mut impl Bindings,
        source: BoxedSource,
        chunk_size: u32,
    ) -> Result<i64> {
        let capacity = b.streams().capacity_with_chunk(&*source, chunk_size)?;
        let descriptor = b.initiate_buffer(capacity)?;
        b.with_memory(|memory, streams| {
            streams.prime_with_chunk(memory, descriptor, source, chunk_size)
        })?;
        Ok(descriptor)
    }

    /// See [`Instance::place_whole`].
    pub fn place_whole(b: &mut impl Bindings, source: BoxedSource) -> Result<i64> {
        let capacity = b.streams().whole_capacity_for(&*source)?;
        let descriptor = b.initiate_buffer(capacity)?;
        b.with_memory(|memory, streams| streams.place_whole(memory, descriptor, source))?;
        Ok(descriptor)
    }

    /// See [`Instance::call`].
    pub fn call(b: &mut impl Bindings, export: &str, args: &[i64]) -> Result<i64> {
        let result = if export == FILL_BUFFER {
            // The host's own import is never the guest's to re-export and call.
            Err(Error::missing_export(export))
        } else {
            b.invoke(export, args)
        };
        b.streams_mut().release_all();
        result
    }

    /// See [`Instance::read_memory`].
    pub fn read_memory(b: &impl Bindings, addr: i64, len: u64) -> Result<Vec<u8>> {
        b.view_memory(|memory| read_back(memory, addr, len))
    }

    /// See [`Instance::memory_size`].
    pub fn memory_size(b: &impl Bindings) -> u64 {
        b.view_memory(|memory| memory.size())
    }
}

impl<B: Bindings + Send> Instance for B {
    fn open_stream(&mut self, source: BoxedSource) -> Result<i64> {
        bindings::open_stream(self, source)
    }
    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        bindings::call(self, export, args)
    }
    fn open_stream_with_chunk(&mut self, source: BoxedSource, chunk_size: u32) -> Result<i64> {
        bindings::open_stream_with_chunk(self, source, chunk_size)
    }
    fn place_whole(&mut self, source: BoxedSource) -> Result<i64> {
        bindings::place_whole(self, source)
    }
    fn close_streams(&mut self) {
        self.streams_mut().release_all();
    }
    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
        bindings::read_memory(self, addr, len)
    }
    fn memory_size(&self) -> u64 {
        bindings::memory_size(self)
    }
    fn stats(&self) -> StreamStats {
        self.streams().stats()
    }
    fn instance_id(&self) -> i64 {
        self.streams().instance_id()
    }
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
    fn default_configs_get_distinct_ids() {
        let a = InstanceConfig::new();
        let b = InstanceConfig::new();
        assert_ne!(a.instance_id, b.instance_id);
        assert_eq!(a.chunk_size, DEFAULT_CHUNK_SIZE);
        assert_eq!(a.with_chunk_size(4096).chunk_size, 4096);
    }
}

#[cfg(test)]
mod signature_tests {
    use super::*;
    use crate::ErrorKind;

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
