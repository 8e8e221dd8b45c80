//! wasmi's linear memory as refill-core's `GuestMemory`, and the limiter
//! that keeps the guest within its `Limits`: memory bytes and table
//! elements summed over all memories and tables, and their numbers.
//!
//! wasmi lends the memory as a plain `&mut [u8]`, which refill-core already
//! treats as guest memory with checked access (`&mut bytes` is a
//! `&mut dyn GuestMemory`), so there is no adapter type here; this module
//! holds the [`GuestLimiter`].

use refill_core::Error;
use refill_core::Limits;
use refill_core::limits::{ResourceTally, memory_exceeded, tables_exceeded};
use wasmi::ResourceLimiter;
use wasmi::errors::{MemoryError, TableError};
// wasmi 2.0 does not re-export the error type of its own `ResourceLimiter`.
use wasmi_core::LimiterError;

/// Keeps the instance within its limits. A request past one is refused
/// with an error, which makes wasmi fail the memory's or table's creation
/// at instantiation and trap `memory.grow` or `table.grow` (instead of
/// returning -1); the refusal is recorded so that the failure can be
/// reported with its kind. wasmi checks the memories' and tables' own
/// maximums itself, before asking, and the numbers of memories, tables and
/// instances against [`ResourceLimiter::memories`] and friends.
#[derive(Debug)]
pub(crate) struct GuestLimiter {
    memory: ResourceTally,
    tables: ResourceTally,
    max_memories: usize,
    max_tables: usize,
    max_instances: usize,
    /// The refusal since the last [`GuestLimiter::clear_denied`], if any.
    denied: Option<Error>,
}

impl GuestLimiter {
    /// A limiter for an instance with `limits`.
    pub(crate) fn new(limits: &Limits) -> Self {
        let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            memory: ResourceTally::new(limits.max_memory_bytes),
            tables: ResourceTally::new(limits.max_table_elements),
            max_memories: count(limits.max_memories),
            max_tables: count(limits.max_tables),
            max_instances: count(limits.max_instances),
            denied: None,
        }
    }

    /// Forgets a refusal from an earlier call.
    pub(crate) fn clear_denied(&mut self) {
        self.denied = None;
    }

    /// The error for the request refused since the last
    /// [`GuestLimiter::clear_denied`], if any.
    pub(crate) fn take_denied(&mut self) -> Option<Error> {
        self.denied.take()
    }

    /// The most memories, tables and instances, for messages.
    pub(crate) fn counts(&self) -> (usize, usize, usize) {
        (self.max_memories, self.max_tables, self.max_instances)
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
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        match self.memory.grow(units(current), units(desired)) {
            Ok(()) => Ok(true),
            Err(total) => {
                self.denied = Some(memory_exceeded(total, self.memory.max_total()));
                Err(LimiterError::ResourceLimiterDeniedAllocation)
            }
        }
    }

    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), LimiterError> {
        // Out of host memory or of fuel: the growth granted last did not happen.
        self.memory.undo();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        // Growth past the table's own declared maximum is the guest's
        // ordinary failure (-1), as on the other engines. wasmi 2.0 asks the
        // limiter before checking that maximum for tables (for memories it
        // checks first), so it is checked here. Found by the differential
        // fuzzer.
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        match self.tables.grow(units(current), units(desired)) {
            Ok(()) => Ok(true),
            Err(total) => {
                self.denied = Some(tables_exceeded(total, self.tables.max_total()));
                Err(LimiterError::ResourceLimiterDeniedAllocation)
            }
        }
    }

    fn table_grow_failed(&mut self, _error: &TableError) -> Result<(), LimiterError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use refill_core::ErrorKind;

    const PAGE: usize = 65_536;

    fn limiter(pages: u64, elements: u64) -> GuestLimiter {
        GuestLimiter::new(
            &Limits::default()
                .with_max_memory_bytes(pages * PAGE as u64)
                .with_max_table_elements(elements),
        )
    }

    #[test]
    fn growth_past_the_limit_is_refused_with_an_error_and_recorded() {
        let mut limiter = limiter(4, 10);
        assert!(matches!(limiter.memory_growing(0, PAGE, None), Ok(true)));
        assert!(matches!(
            limiter.memory_growing(PAGE, 4 * PAGE, None),
            Ok(true)
        ));
        assert!(limiter.take_denied().is_none());
        assert!(limiter.memory_growing(4 * PAGE, 5 * PAGE, None).is_err());
        let denied = limiter.take_denied().map(|e| e.kind());
        assert_eq!(denied, Some(ErrorKind::MemoryLimitExceeded));
        assert!(limiter.take_denied().is_none(), "taken once");

        assert!(matches!(limiter.table_growing(0, 6, None), Ok(true)));
        assert!(
            limiter.table_growing(0, 5, None).is_err(),
            "tables share the limit"
        );
        let denied = limiter.take_denied().map(|e| e.kind());
        assert_eq!(denied, Some(ErrorKind::TableLimitExceeded));
    }

    #[test]
    fn a_failed_growth_gives_its_bytes_back_and_memories_share_the_limit() {
        let mut limiter = limiter(4, 10);
        assert!(matches!(
            limiter.memory_growing(0, 2 * PAGE, None),
            Ok(true)
        ));
        assert!(matches!(
            limiter.memory_growing(2 * PAGE, 4 * PAGE, None),
            Ok(true)
        ));
        assert!(
            limiter
                .memory_grow_failed(&MemoryError::OutOfSystemMemory)
                .is_ok()
        );
        // Back at 2 pages: a second memory may have the other two.
        assert!(matches!(
            limiter.memory_growing(0, 2 * PAGE, None),
            Ok(true)
        ));
        assert!(limiter.memory_growing(0, PAGE, None).is_err());
    }
}
