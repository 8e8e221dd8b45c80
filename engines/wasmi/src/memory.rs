//! wasmi's linear memory as refill-core's `GuestMemory`, and the limiter
//! that keeps the guest within its `Limits`: memory bytes and table
//! elements summed over all memories and tables, and their numbers.
//!
//! wasmi lends the memory as a plain `&mut [u8]`, which refill-core already
//! treats as guest memory with checked access (`&mut bytes` is a
//! `&mut dyn GuestMemory`), so there is no adapter type here; this module
//! holds the [`GuestLimiter`].

use refill_core::limits::GuestTally;
use refill_core::{Error, Limits};
use wasmi::ResourceLimiter;
use wasmi::errors::{MemoryError, TableError};
// wasmi 2.0 does not re-export the error type of its own `ResourceLimiter`.
use wasmi_core::LimiterError;

/// wasmi's `ResourceLimiter` for one store, over refill-core's
/// [`GuestTally`]. A request past a limit is refused with an error, which
/// makes wasmi fail the memory's or table's creation at instantiation and
/// trap `memory.grow` or `table.grow` (instead of returning -1); wasmi's
/// error carries no payload, so the refusal is recorded here to be
/// reported with its kind. Growth past a memory's or table's own declared
/// maximum returns -1 (the tally checks it: wasmi 2.0 asks the limiter
/// before checking a table's maximum).
#[derive(Debug)]
pub(crate) struct GuestLimiter {
    tally: GuestTally,
    /// The refusal since the last [`GuestLimiter::clear_denied`], if any.
    denied: Option<Error>,
}

impl GuestLimiter {
    /// A limiter for an instance with `limits`.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            tally: GuestTally::new(limits),
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
        let t = &self.tally;
        (t.memories(), t.tables(), t.instances())
    }

    /// A refusal, recorded, as wasmi's error.
    fn deny(&mut self, granted: Result<bool, Error>) -> Result<bool, LimiterError> {
        granted.map_err(|error| {
            self.denied = Some(error);
            LimiterError::ResourceLimiterDeniedAllocation
        })
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let granted = self.tally.memory_growing(current, desired, maximum);
        self.deny(granted)
    }

    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), LimiterError> {
        // Out of host memory or of fuel: the growth granted last did not happen.
        self.tally.memory_grow_failed();
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        let granted = self.tally.table_growing(current, desired, maximum);
        self.deny(granted)
    }

    fn table_grow_failed(&mut self, _error: &TableError) -> Result<(), LimiterError> {
        self.tally.table_grow_failed();
        Ok(())
    }

    fn instances(&self) -> usize {
        self.tally.instances()
    }

    fn tables(&self) -> usize {
        self.tally.tables()
    }

    fn memories(&self) -> usize {
        self.tally.memories()
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
