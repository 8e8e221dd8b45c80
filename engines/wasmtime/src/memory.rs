//! wasmtime's linear memory as refill-core's `GuestMemory`, and its limit.
//!
//! wasmtime lends the memory as a plain `&mut [u8]`, which refill-core
//! already treats as guest memory with checked access, so there is no
//! adapter type here; this module holds the [`MemoryLimiter`] that keeps
//! the guest within `Limits::max_memory_bytes`.

use refill_core::{Error, ErrorKind};
use wasmtime::ResourceLimiter;

use crate::error::trap;

/// wasmtime's `ResourceLimiter` for one store: no memory may be created or
/// grown past `max_bytes`. Going past it is an error, not a refusal, so the
/// instantiation fails or `memory.grow` traps with `MemoryLimitExceeded`
/// instead of the guest seeing a silent -1.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    max_bytes: u64,
}

impl MemoryLimiter {
    pub(crate) fn new(max_bytes: u64) -> Self {
        Self { max_bytes }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Past the memory's own declared maximum, growth fails the way the
        // specification says (-1), whatever the host's limit.
        if maximum.is_some_and(|max| desired > max) {
            return Ok(false);
        }
        let desired_bytes = u64::try_from(desired).unwrap_or(u64::MAX);
        if desired_bytes <= self.max_bytes {
            return Ok(true);
        }
        // `current` is 0 when the memory is being created (instantiation).
        let message = format!(
            "a guest memory of {desired_bytes} bytes (currently {current}) would exceed \
             the limit of {} bytes",
            self.max_bytes
        );
        Err(trap(Error::new(ErrorKind::MemoryLimitExceeded, message)))
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are not limited by refill; their own maximum still holds.
        Ok(true)
    }
}
