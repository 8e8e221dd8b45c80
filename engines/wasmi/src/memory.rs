//! wasmi's linear memory as refill-core's `GuestMemory`, and the limiter
//! that keeps it within `Limits::max_memory_bytes`.
//!
//! wasmi lends the memory as a plain `&mut [u8]`, which refill-core already
//! treats as guest memory with checked access (`&mut bytes` is a
//! `&mut dyn GuestMemory`), so there is no adapter type here; this module
//! holds the [`MemoryLimiter`].

use alloc::format;

use refill_core::{Error, ErrorKind};
use wasmi::ResourceLimiter;
use wasmi::errors::{MemoryError, TableError};
// wasmi 2.0 does not re-export the error type of its own `ResourceLimiter`.
use wasmi_core::LimiterError;

/// wasmi's defaults for the number of instances, tables and memories of a
/// store (its own constants are private).
const DEFAULT_COUNT_LIMIT: usize = 10_000;

/// A memory request the limiter refused: sizes in bytes.
#[derive(Clone, Copy, Debug)]
struct Denied {
    current: usize,
    desired: usize,
}

/// Keeps the instance's linear memory (all of its memories together) within
/// `max_bytes`. A request past the limit is refused with an error, which
/// makes wasmi fail the memory's creation at instantiation and trap
/// `memory.grow` (instead of returning -1); the request is recorded so that
/// the failure can be reported as `MemoryLimitExceeded`.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max_bytes: u64,
    /// Bytes of all guest memories, as granted so far.
    used: u64,
    /// The last growth granted, `(current, desired)`, undone if it fails.
    granted: Option<(u64, u64)>,
    denied: Option<Denied>,
}

impl MemoryLimiter {
    /// A limiter allowing `max_bytes` of guest memory.
    pub(crate) fn new(max_bytes: u64) -> Self {
        Self {
            max_bytes,
            used: 0,
            granted: None,
            denied: None,
        }
    }

    /// Forgets a denial from an earlier call.
    pub(crate) fn clear_denied(&mut self) {
        self.denied = None;
    }

    /// The `MemoryLimitExceeded` error for the request refused since the
    /// last [`MemoryLimiter::clear_denied`], if any.
    pub(crate) fn take_denied(&mut self) -> Option<Error> {
        let Denied { current, desired } = self.denied.take()?;
        let max = self.max_bytes;
        let message = if current == 0 {
            format!("a guest memory of {desired} bytes exceeds the instance's limit of {max} bytes")
        } else {
            format!(
                "growing guest memory from {current} to {desired} bytes exceeds the instance's \
                 limit of {max} bytes"
            )
        };
        Some(Error::new(ErrorKind::MemoryLimitExceeded, message))
    }

    /// The error for a growth wasmi reports as limited without a recorded
    /// denial (not expected: this limiter is the only one).
    pub(crate) fn exceeded(&self) -> Error {
        Error::new(
            ErrorKind::MemoryLimitExceeded,
            format!(
                "the guest's memory would exceed the instance's limit of {} bytes",
                self.max_bytes
            ),
        )
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        // wasmi checks the memory's own maximum itself, before asking.
        let bytes = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        let (current_bytes, desired_bytes) = (bytes(current), bytes(desired));
        let total = self
            .used
            .saturating_sub(current_bytes)
            .saturating_add(desired_bytes);
        if total > self.max_bytes {
            self.denied = Some(Denied { current, desired });
            self.granted = None;
            return Err(LimiterError::ResourceLimiterDeniedAllocation);
        }
        self.used = total;
        self.granted = Some((current_bytes, desired_bytes));
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: &MemoryError) -> Result<(), LimiterError> {
        // Out of host memory or of fuel: the growth granted last did not happen.
        if let Some((current, desired)) = self.granted.take() {
            self.used = self.used.saturating_sub(desired).saturating_add(current);
        }
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> Result<bool, LimiterError> {
        // Tables are not limited; wasmi checks their maximum itself.
        Ok(true)
    }

    fn table_grow_failed(&mut self, _error: &TableError) -> Result<(), LimiterError> {
        Ok(())
    }

    fn instances(&self) -> usize {
        DEFAULT_COUNT_LIMIT
    }

    fn tables(&self) -> usize {
        DEFAULT_COUNT_LIMIT
    }

    fn memories(&self) -> usize {
        DEFAULT_COUNT_LIMIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 65_536;

    #[test]
    fn growth_past_the_limit_is_refused_with_an_error_and_recorded() {
        let mut limiter = MemoryLimiter::new(4 * PAGE as u64);
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
    }

    #[test]
    fn a_failed_growth_gives_its_bytes_back_and_memories_share_the_limit() {
        let mut limiter = MemoryLimiter::new(4 * PAGE as u64);
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
