//! What one instance's store holds, how a guest call gets it ready, and
//! which of its limits a failed call ran into.

use alloc::borrow::ToOwned;
use alloc::format;

use refill_core::{Error, ErrorKind, HostData, Result};
use wasmi::{Memory, Store, TrapCode};

use crate::error::{engine_error, from_call, instantiation_error};
use crate::memory::MemoryLimiter;

/// One instance's store data: refill-core's host data (streams, id,
/// host-function states), its own memory handle and the state of its limits.
#[derive(Debug)]
pub(crate) struct StoreData {
    pub(crate) host: HostData,
    /// Set right after instantiation; a host function called before (from
    /// a start function) has no memory to work with.
    pub(crate) memory: Option<Memory>,
    /// Enforces `Limits::max_memory_bytes` on every memory of the instance
    /// (installed with `Store::limiter`).
    pub(crate) limiter: MemoryLimiter,
    /// The fuel every guest call starts with, or `None` when the engine
    /// does not meter fuel.
    pub(crate) fuel: Option<u64>,
}

impl StoreData {
    /// The refill error behind a failed guest call, its limits read from
    /// this store.
    pub(crate) fn call_error(&mut self, error: wasmi::Error) -> Error {
        from_call(error, |error| self.limit_exceeded(error))
    }

    /// The refill error behind a failed instantiation, its limits read from
    /// this store.
    pub(crate) fn instantiation_error(&mut self, error: wasmi::Error) -> Error {
        instantiation_error(error, |error| self.limit_exceeded(error))
    }

    /// The limit behind `error`, if it is one: running out of fuel, or a
    /// memory request the limiter refused since the last [`prepare_call`].
    fn limit_exceeded(&mut self, error: &wasmi::Error) -> Option<Error> {
        let trap = error.as_trap_code();
        if trap == Some(TrapCode::OutOfFuel) {
            let message = match self.fuel {
                Some(fuel) => format!("the guest used up its budget of {fuel} fuel units"),
                None => "the guest ran out of fuel".to_owned(),
            };
            return Some(Error::new(ErrorKind::CpuBudgetExhausted, message));
        }
        // The limiter refuses with an error, and records what it refused: a
        // trapped `memory.grow` or a memory that could not be created.
        if let Some(denied) = self.limiter.take_denied() {
            return Some(denied);
        }
        (trap == Some(TrapCode::GrowthOperationLimited)).then(|| self.limiter.exceeded())
    }
}

/// Gets the store ready for one guest call: a fresh fuel budget (when the
/// engine meters fuel; budgets are per call, never carried over) and no
/// memory-limit denial left from before.
pub(crate) fn prepare_call(store: &mut Store<StoreData>) -> Result<()> {
    store.data_mut().limiter.clear_denied();
    if let Some(fuel) = store.data().fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmi cannot set the fuel budget", e))?;
    }
    Ok(())
}
