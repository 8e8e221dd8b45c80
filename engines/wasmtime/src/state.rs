//! What one instance's store holds, and how a guest call gets it ready:
//! its fuel and its deadline.

use std::time::{Duration, Instant};

use refill_core::{Error, ErrorKind, HostData, Result};
use wasmtime::{Memory, Store, UpdateDeadline};

use crate::error::{engine_error, trap};
use crate::memory::GuestLimiter;

/// How often the engine's epoch advances: a deadline is checked this often,
/// and a guest stopped at most this long after it.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Epoch ticks for "no deadline": far away, without overflowing wasmtime's
/// `current + delta`.
const NO_DEADLINE: u64 = u64::MAX / 2;

/// One instance's store data: refill-core's host data (streams, id,
/// host-function states), its own memory handle, its limiter and the
/// deadline of the call in progress.
#[derive(Debug)]
pub(crate) struct StoreData {
    pub(crate) host: HostData,
    /// Set right after instantiation; a host function called before (from
    /// a start function) has no memory to work with.
    pub(crate) memory: Option<Memory>,
    /// Enforces the memory and table limits on the whole instance.
    pub(crate) limiter: GuestLimiter,
    /// When the call in progress must stop, if it has a deadline.
    pub(crate) stop_at: Option<Instant>,
}

/// What bounds each guest call of one instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    /// The fuel each call starts with; `None` on an unmetered engine.
    pub(crate) fuel: Option<u64>,
    /// The deadline of each call; `None`: none (or an engine without epochs).
    pub(crate) deadline: Option<Duration>,
    /// Whether the engine checks epochs (then a deadline must always be set).
    pub(crate) epochs: bool,
}

/// Installs the deadline check on a fresh store of an engine with epoch
/// interruption: at each epoch tick past the store's epoch deadline, the
/// guest is stopped with `DeadlineExceeded` if its call is past its time,
/// and let run one tick more otherwise.
pub(crate) fn watch_deadlines(store: &mut Store<StoreData>) {
    store.epoch_deadline_callback(|context| match context.data().stop_at {
        Some(at) if Instant::now() >= at => Err(trap(Error::new(
            ErrorKind::DeadlineExceeded,
            "the guest call ran past its deadline and was stopped",
        ))),
        Some(_) => Ok(UpdateDeadline::Continue(1)),
        None => Ok(UpdateDeadline::Continue(NO_DEADLINE)),
    });
}

/// Gets the store ready for the next guest call: a fresh fuel budget
/// (budgets are per call, never carried over) and the call's deadline.
pub(crate) fn prepare_call(store: &mut Store<StoreData>, limits: &CallLimits) -> Result<()> {
    if let Some(fuel) = limits.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot set the fuel", e))?;
    }
    if limits.epochs {
        match limits.deadline {
            Some(deadline) => {
                store.data_mut().stop_at = Some(Instant::now() + deadline);
                // The callback reads the clock from the first tick that could
                // be past the deadline on.
                let ticks = deadline.as_nanos() / EPOCH_TICK.as_nanos();
                store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(NO_DEADLINE).max(1));
            }
            None => {
                store.data_mut().stop_at = None;
                store.set_epoch_deadline(NO_DEADLINE);
            }
        }
    }
    Ok(())
}

/// `$sync`, the call on a store of a module linked without async calls;
/// on one linked for them (`$is_async`), where wasmtime takes only its
/// `*_async` entry points, `$async` polled once
/// (`refill_core::asynchronous::poll_now`): outside an async call no stream
/// waits. A `refill_core::Result` of the call's own result.
#[cfg(feature = "async")]
macro_rules! sync_or_now {
    ($is_async:expr, $sync:expr, $async:expr) => {
        if $is_async {
            refill_core::asynchronous::poll_now($async)
        } else {
            Ok($sync)
        }
    };
}

/// Without the feature `async`, no module is linked for async calls.
#[cfg(not(feature = "async"))]
macro_rules! sync_or_now {
    ($is_async:expr, $sync:expr, $async:expr) => {{
        let _: bool = $is_async;
        Ok::<_, refill_core::Error>($sync)
    }};
}
