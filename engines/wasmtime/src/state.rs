//! What one instance's store holds, and how a guest call gets it ready.

use refill_core::{ErrorKind, HostData, Result};
use wasmtime::{Memory, Store};

use crate::error::engine_error;
use crate::memory::MemoryLimiter;

/// One instance's store data: refill-core's host data (streams, id,
/// host-function states), its own memory handle and its memory limiter.
#[derive(Debug)]
pub(crate) struct StoreData {
    pub(crate) host: HostData,
    /// Set right after instantiation; a host function called before (from
    /// a start function) has no memory to work with.
    pub(crate) memory: Option<Memory>,
    /// Enforces `Limits::max_memory_bytes` on every memory of the instance.
    pub(crate) limiter: MemoryLimiter,
}

/// Gives the store a fresh budget of `fuel` for the next guest call (nothing
/// on an unmetered engine): budgets are per call, never carried over.
pub(crate) fn refuel(store: &mut Store<StoreData>, fuel: Option<u64>) -> Result<()> {
    match fuel {
        Some(fuel) => store
            .set_fuel(fuel)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot set the fuel", e)),
        None => Ok(()),
    }
}
