//! wasmtime's linear memory as refill-core's `GuestMemory`, and the
//! limiter that keeps the guest within its `Limits`.
//!
//! wasmtime lends the memory as a plain `&mut [u8]`, which refill-core
//! already treats as guest memory with checked access, so there is no
//! adapter type here; this module holds the [`GuestLimiter`]: memory bytes
//! and table elements summed over all of the instance's memories and tables,
//! and their numbers.

use refill_core::Limits;
use refill_core::limits::GuestTally;
use wasmtime::ResourceLimiter;

use crate::error::trap;

/// wasmtime's `ResourceLimiter` for one store, over refill-core's
/// [`GuestTally`]. A request past a limit is an error, not a refusal, so
/// the instantiation fails or `memory.grow` / `table.grow` traps with
/// `MemoryLimitExceeded` / `TableLimitExceeded` instead of the guest seeing
/// a silent -1. Growth past a memory's or table's own declared maximum
/// still returns -1, as WebAssembly says.
#[derive(Debug)]
pub(crate) struct GuestLimiter(GuestTally);

impl GuestLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Self(GuestTally::new(limits))
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.0
            .memory_growing(current, desired, maximum)
            .map_err(trap)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.0.memory_grow_failed();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.0
            .table_growing(current, desired, maximum)
            .map_err(trap)
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.0.table_grow_failed();
        Ok(())
    }

    fn instances(&self) -> usize {
        self.0.instances()
    }

    fn tables(&self) -> usize {
        self.0.tables()
    }

    fn memories(&self) -> usize {
        self.0.memories()
    }
}
