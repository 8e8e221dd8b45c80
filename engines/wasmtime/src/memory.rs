//! wasmtime's linear memory as refill-core's `GuestMemory`, and the
//! limiter that keeps the guest within its `Limits`.
//!
//! wasmtime lends the memory as a plain `&mut [u8]`, which refill-core
//! already treats as guest memory with checked access, so there is no
//! adapter type here; this module holds the [`GuestLimiter`]: memory bytes
//! and table elements summed over all of the instance's memories and tables,
//! and their numbers.

use refill_core::Limits;
use refill_core::limits::{ResourceTally, memory_exceeded, tables_exceeded};
use wasmtime::ResourceLimiter;

use crate::error::trap;

/// wasmtime's `ResourceLimiter` for one store. A request past a limit is an
/// error, not a refusal, so the instantiation fails or `memory.grow` /
/// `table.grow` traps with `MemoryLimitExceeded` / `TableLimitExceeded`
/// instead of the guest seeing a silent -1. Growth past a memory's or
/// table's own declared maximum still returns -1, as WebAssembly says.
#[derive(Debug)]
pub(crate) struct GuestLimiter {
    memory: ResourceTally,
    tables: ResourceTally,
    max_memories: usize,
    max_tables: usize,
    max_instances: usize,
}

impl GuestLimiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            memory: ResourceTally::new(limits.max_memory_bytes),
            tables: ResourceTally::new(limits.max_table_elements),
            max_memories: count(limits.max_memories),
            max_tables: count(limits.max_tables),
            max_instances: count(limits.max_instances),
        }
    }
}

/// Bytes or elements as `u64`.
fn units(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        // `current` is 0 when the memory is being created (instantiation).
        match self.memory.grow(units(current), units(desired)) {
            Ok(()) => Ok(true),
            Err(total) => Err(trap(memory_exceeded(total, self.memory.max_total()))),
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory.undo();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        match self.tables.grow(units(current), units(desired)) {
            Ok(()) => Ok(true),
            Err(total) => Err(trap(tables_exceeded(total, self.tables.max_total()))),
        }
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.tables.undo();
        Ok(())
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}
