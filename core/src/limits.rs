//! Resource limits of one instance, honoured by every engine.

use crate::abi::{MAX_CHUNK_SIZE, MAX_PAYLOAD_LEN};
use crate::error::{Error, ErrorKind, Result};

/// What one instance may use. The stream limits (`max_payload_bytes`,
/// `max_open_streams`, `max_chunk_size`) are enforced by [`crate::HostStreams`]
/// the same way on every engine; `max_memory_bytes` and `fuel` by each engine
/// (see `docs/security.md` for how each maps them).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest guest linear memory, in bytes. Instantiating a module whose
    /// initial memory is larger, or growing past it, fails with
    /// [`crate::ErrorKind::MemoryLimitExceeded`]. Default: 4 GiB (all of wasm32).
    pub max_memory_bytes: u64,
    /// CPU budget of each guest call (entry point, `__frnt__initiate_buffer`,
    /// `__frnt_set_id`), in fuel units: about one per WebAssembly instruction.
    /// Running out is [`crate::ErrorKind::CpuBudgetExhausted`]. `None` (default):
    /// unmetered. Needs an engine built with [`crate::EngineConfig::fuel_metering`].
    pub fuel: Option<u64>,
    /// Largest payload of one stream, in bytes. Default: `u32::MAX`, what the
    /// header can announce.
    pub max_payload_bytes: u64,
    /// Most streams open at once in one instance (arguments of one call).
    /// Default: 64.
    pub max_open_streams: usize,
    /// Largest chunk size the instance may be configured with. Default: 1 GiB.
    pub max_chunk_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 1 << 32,
            fuel: None,
            max_payload_bytes: MAX_PAYLOAD_LEN,
            max_open_streams: 64,
            max_chunk_size: MAX_CHUNK_SIZE,
        }
    }
}

impl Limits {
    /// Defaults for untrusted contracts: 256 MiB of guest memory, 50 billion
    /// fuel units per call (tens of seconds of work on the fastest engine),
    /// 1 GiB payloads, 16 open streams, chunks of at most 16 MiB.
    pub fn untrusted() -> Self {
        Self {
            max_memory_bytes: 256 << 20,
            fuel: Some(50_000_000_000),
            max_payload_bytes: 1 << 30,
            max_open_streams: 16,
            max_chunk_size: 16 << 20,
        }
    }

    /// Sets the largest guest memory, in bytes.
    #[must_use]
    pub fn with_max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Sets the CPU budget of each call, in fuel units (`None`: unmetered).
    #[must_use]
    pub fn with_fuel(mut self, fuel: Option<u64>) -> Self {
        self.fuel = fuel;
        self
    }

    /// Sets the largest payload of one stream, in bytes.
    #[must_use]
    pub fn with_max_payload_bytes(mut self, bytes: u64) -> Self {
        self.max_payload_bytes = bytes;
        self
    }

    /// Sets the most streams open at once.
    #[must_use]
    pub fn with_max_open_streams(mut self, streams: usize) -> Self {
        self.max_open_streams = streams;
        self
    }

    /// Sets the largest chunk size, in bytes.
    #[must_use]
    pub fn with_max_chunk_size(mut self, bytes: u32) -> Self {
        self.max_chunk_size = bytes;
        self
    }

    /// The fuel each guest call starts with, on an engine that does or does
    /// not meter fuel: the budget; `u64::MAX` on a metering engine without
    /// one (its store would otherwise start empty); `None` when unmetered.
    /// A budget asked of an unmetering engine is [`ErrorKind::Unsupported`],
    /// never a silently unlimited guest.
    pub fn fuel_per_call(&self, engine_meters_fuel: bool) -> Result<Option<u64>> {
        match (self.fuel, engine_meters_fuel) {
            (budget, true) => Ok(Some(budget.unwrap_or(u64::MAX))),
            (None, false) => Ok(None),
            (Some(_), false) => Err(Error::new(
                ErrorKind::Unsupported,
                "Limits::fuel is set but the engine does not meter fuel; build it with \
                 EngineConfig::with_fuel_metering(true) (or EngineConfig::for_limits)",
            )),
        }
    }

    /// The memory limit in 64 KiB wasm pages (rounded down).
    pub fn max_memory_pages(&self) -> u64 {
        self.max_memory_bytes / crate::abi::WASM_PAGE_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuel_per_call_follows_the_budget_and_the_engine() {
        let budget = Limits::default().with_fuel(Some(1000));
        assert_eq!(budget.fuel_per_call(true).unwrap(), Some(1000));
        assert_eq!(
            Limits::default().fuel_per_call(true).unwrap(),
            Some(u64::MAX)
        );
        assert_eq!(Limits::default().fuel_per_call(false).unwrap(), None);
        let e = budget.fuel_per_call(false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.message().contains("EngineConfig::with_fuel_metering"));
    }
}
