//! Resource limits of one instance, honoured by every engine.
//!
//! Every resource a guest can take is bounded here: linear memory and table
//! elements (each summed over all of the instance's memories and tables),
//! the numbers of memories, tables and instances, CPU time (a wall-clock
//! deadline per call, and fuel), and what the host holds for its streams.
//! The guest's stack is bounded by the engine ([`crate::EngineConfig`]'s
//! `max_stack_bytes`), since every runtime sets it engine-wide.
//!
//! [`Limits::default`] is meant for untrusted code and works on an engine
//! built the default way; [`Limits::trusted`] is the explicit opt-out.

use core::time::Duration;

use crate::abi::{MAX_CHUNK_SIZE, MAX_PAYLOAD_LEN};
use crate::error::{Error, ErrorKind, Result};

/// What one instance may use. The stream limits (`max_payload_bytes`,
/// `max_open_streams`, `max_chunk_size`, `max_output_bytes`) are enforced by [`crate::HostStreams`]
/// the same way on every engine; the others by each engine, with the same
/// error kind everywhere (see `docs/security.md` for how each maps them).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest guest linear memory, in bytes, all of the instance's memories
    /// together. Instantiating a module whose initial memories are larger,
    /// or growing past it, fails with [`ErrorKind::MemoryLimitExceeded`].
    /// Default: 256 MiB.
    pub max_memory_bytes: u64,
    /// Most linear memories one instance may have (imported or defined).
    /// More is [`ErrorKind::MemoryLimitExceeded`] at instantiation.
    /// Default: 1, what compilers emit.
    pub max_memories: u32,
    /// Most table elements, all of the instance's tables together. Creating
    /// or growing tables past it fails with
    /// [`ErrorKind::TableLimitExceeded`]. Default: 1 Mi elements (8 to 16
    /// MiB of host memory, depending on the engine).
    pub max_table_elements: u64,
    /// Most tables one instance may have. More is
    /// [`ErrorKind::TableLimitExceeded`] at instantiation. Default: 4.
    pub max_tables: u32,
    /// Most instances in one instance's store (refill makes one; a module
    /// cannot make more by itself). More is
    /// [`ErrorKind::InstanceLimitExceeded`]. Default: 1.
    pub max_instances: u32,
    /// Wall-clock time one guest call may run: an entry point, including
    /// the host functions and sources it calls; also each of the short
    /// calls refill makes itself (start function, `__frnt_set_id`,
    /// `__frnt__initiate_buffer`). A call still running then is stopped with
    /// [`ErrorKind::DeadlineExceeded`] within a small slack that depends on
    /// the engine (`docs/security.md`). `None`: no deadline. Default: 5 s,
    /// as freenet's host; `None` without the `std` feature, where there is
    /// no clock (a device bounds CPU with [`Limits::fuel`] instead).
    pub deadline: Option<Duration>,
    /// CPU budget of each guest call, in fuel units: about one per
    /// WebAssembly instruction, deterministic where the deadline is not.
    /// Running out is [`ErrorKind::CpuBudgetExhausted`]. `None` (default):
    /// no budget (the deadline bounds time). Needs an engine built with
    /// [`crate::EngineConfig::fuel_metering`] ([`crate::EngineConfig::for_limits`]).
    pub fuel: Option<u64>,
    /// Largest payload of one stream, in bytes. Default: 1 GiB.
    pub max_payload_bytes: u64,
    /// Most streams open at once in one instance (arguments of one call).
    /// Default: 16.
    pub max_open_streams: usize,
    /// Largest chunk size the instance may be configured with. Default:
    /// 16 MiB.
    pub max_chunk_size: u32,
    /// Most bytes one output stream may take from the guest over one call
    /// (`docs/protocol.md`, "Streaming out"); a drain past it traps with
    /// [`ErrorKind::OutputTooLarge`]. Default: 1 GiB, as payloads.
    pub max_output_bytes: u64,
}

/// The default deadline of a guest call, as freenet's host has it.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// The defaults: safe for untrusted code, on any engine built the default
/// way.
impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 << 20,
            max_memories: 1,
            max_table_elements: 1 << 20,
            max_tables: 4,
            max_instances: 1,
            deadline: if cfg!(feature = "std") {
                Some(DEFAULT_DEADLINE)
            } else {
                None
            },
            fuel: None,
            max_payload_bytes: 1 << 30,
            max_open_streams: 16,
            max_chunk_size: 16 << 20,
            max_output_bytes: 1 << 30,
        }
    }
}

impl Limits {
    /// The defaults ([`Limits::default`]), safe for untrusted code.
    #[deprecated(note = "the defaults are for untrusted code: use `Limits::default()`")]
    pub fn untrusted() -> Self {
        Self::default()
    }

    /// No limits beyond what WebAssembly and the ABI impose: for code the
    /// host trusts as much as itself. All of wasm32's 4 GiB per instance,
    /// any number of memories, tables and table elements, no deadline, no
    /// fuel, `u32::MAX`-byte payloads, 64 streams, 1 GiB chunks.
    pub fn trusted() -> Self {
        Self {
            max_memory_bytes: 1 << 32,
            max_memories: u32::MAX,
            max_table_elements: u64::MAX,
            max_tables: u32::MAX,
            max_instances: u32::MAX,
            deadline: None,
            fuel: None,
            max_payload_bytes: MAX_PAYLOAD_LEN,
            max_open_streams: 64,
            max_chunk_size: MAX_CHUNK_SIZE,
            max_output_bytes: u64::MAX,
        }
    }

    /// Sets the largest guest memory, in bytes (all memories together).
    #[must_use]
    pub fn with_max_memory_bytes(mut self, bytes: u64) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    /// Sets the most memories one instance may have.
    #[must_use]
    pub fn with_max_memories(mut self, memories: u32) -> Self {
        self.max_memories = memories;
        self
    }

    /// Sets the most table elements (all tables together).
    #[must_use]
    pub fn with_max_table_elements(mut self, elements: u64) -> Self {
        self.max_table_elements = elements;
        self
    }

    /// Sets the most tables one instance may have.
    #[must_use]
    pub fn with_max_tables(mut self, tables: u32) -> Self {
        self.max_tables = tables;
        self
    }

    /// Sets the most instances in one store.
    #[must_use]
    pub fn with_max_instances(mut self, instances: u32) -> Self {
        self.max_instances = instances;
        self
    }

    /// Sets the wall-clock deadline of each call (`None`: none).
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
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

    /// Sets the most bytes one output stream may take over one call.
    #[must_use]
    pub fn with_max_output_bytes(mut self, bytes: u64) -> Self {
        self.max_output_bytes = bytes;
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

    /// The deadline of each guest call, on an engine that can or cannot
    /// stop a running guest: a deadline asked of an engine that cannot is
    /// [`ErrorKind::Unsupported`], never a silently unbounded guest.
    pub fn deadline_per_call(&self, engine_interrupts: bool) -> Result<Option<Duration>> {
        match (self.deadline, engine_interrupts) {
            (Some(_), false) => Err(Error::new(
                ErrorKind::Unsupported,
                "Limits::deadline is set but the engine cannot interrupt a guest; build it \
                 with EngineConfig::with_interruption(true) (the default), or set \
                 Limits::with_deadline(None)",
            )),
            (deadline, _) => Ok(deadline),
        }
    }

    /// The memory limit in 64 KiB wasm pages (rounded down).
    pub fn max_memory_pages(&self) -> u64 {
        self.max_memory_bytes / crate::abi::WASM_PAGE_SIZE
    }
}

/// The error for guest memories that would take `total` bytes together,
/// past the limit of `max`.
pub fn memory_exceeded(total: u64, max: u64) -> Error {
    Error::new(
        ErrorKind::MemoryLimitExceeded,
        alloc::format!(
            "the guest's memories would take {total} bytes together, over the limit of {max} bytes"
        ),
    )
}

/// The error for guest tables that would hold `total` elements together,
/// past the limit of `max`.
pub fn tables_exceeded(total: u64, max: u64) -> Error {
    Error::new(
        ErrorKind::TableLimitExceeded,
        alloc::format!(
            "the guest's tables would hold {total} elements together, over the limit of {max}"
        ),
    )
}

/// The error for a store that would get more memories, tables or instances
/// than `limits` allow (`what` is "memories", "tables" or "instances"),
/// `count` of them if the engine says how many.
pub fn count_exceeded(what: &str, count: Option<u64>, max: u32) -> Error {
    let kind = match what {
        "tables" => ErrorKind::TableLimitExceeded,
        "instances" => ErrorKind::InstanceLimitExceeded,
        _ => ErrorKind::MemoryLimitExceeded,
    };
    let message = match count {
        Some(count) => {
            alloc::format!("the module would have {count} {what}, over the limit of {max}")
        }
        None => alloc::format!("the module would have more {what} than the limit of {max}"),
    };
    Error::new(kind, message)
}

/// Keeps the running total of one kind of resource (memory bytes or table
/// elements) over all of an instance's memories or tables: what every
/// engine's limiter asks before creating or growing one. Engines call
/// [`ResourceTally::grow`] with one memory's or table's current and desired
/// size (current 0 when it is created) and [`ResourceTally::undo`] when a
/// granted growth did not happen. (The number of memories and tables is
/// checked by each engine against the module at instantiation.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceTally {
    max_total: u64,
    total: u64,
    last: Option<(u64, u64)>,
}

impl ResourceTally {
    /// A tally allowing `max_total` units in all.
    pub const fn new(max_total: u64) -> Self {
        Self {
            max_total,
            total: 0,
            last: None,
        }
    }

    /// Asks to take one memory or table from `current` to `desired` units.
    /// Granted, the tally counts it; refused (the total would pass the
    /// limit), nothing changes and the error holds the total it would have
    /// reached. Shrinking is always granted.
    pub fn grow(&mut self, current: u64, desired: u64) -> core::result::Result<(), u64> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if desired > current && total > self.max_total {
            self.last = None;
            return Err(total);
        }
        self.total = total;
        self.last = Some((current, desired));
        Ok(())
    }

    /// Undoes the growth granted last, which the engine then failed to make.
    pub fn undo(&mut self) {
        if let Some((current, desired)) = self.last.take() {
            self.total = self.total.saturating_sub(desired).saturating_add(current);
        }
    }

    /// The units granted so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The limit on the total.
    pub fn max_total(&self) -> u64 {
        self.max_total
    }
}

/// What every engine's resource limiter decides for one instance, written
/// once: memory bytes and table elements summed over all of the instance's
/// memories and tables ([`ResourceTally`]), the most memories, tables and
/// instances, and growth past a memory's or table's own declared maximum,
/// which is the guest's ordinary failure (-1), never a limit error. An
/// engine's limiter forwards its questions here and turns a refusal into
/// the engine's error.
#[derive(Clone, Debug)]
pub struct GuestTally {
    memory: ResourceTally,
    tables: ResourceTally,
    max_memories: usize,
    max_tables: usize,
    max_instances: usize,
}

impl GuestTally {
    /// The tally of an instance with `limits`.
    pub fn new(limits: &Limits) -> Self {
        let count = |n: u32| usize::try_from(n).unwrap_or(usize::MAX);
        Self {
            memory: ResourceTally::new(limits.max_memory_bytes),
            tables: ResourceTally::new(limits.max_table_elements),
            max_memories: count(limits.max_memories),
            max_tables: count(limits.max_tables),
            max_instances: count(limits.max_instances),
        }
    }

    /// A memory asks to grow from `current` to `desired` bytes (`current`
    /// 0 when it is created), within its declared `maximum`: `Ok(true)`
    /// granted, `Ok(false)` past its own maximum (the guest sees -1), or
    /// [`ErrorKind::MemoryLimitExceeded`] past the limit.
    pub fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        Self::growing(&mut self.memory, current, desired, maximum, memory_exceeded)
    }

    /// A table asks to grow, as [`GuestTally::memory_growing`] (elements,
    /// [`ErrorKind::TableLimitExceeded`]).
    pub fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        Self::growing(&mut self.tables, current, desired, maximum, tables_exceeded)
    }

    fn growing(
        tally: &mut ResourceTally,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
        exceeded: fn(u64, u64) -> Error,
    ) -> Result<bool> {
        if maximum.is_some_and(|maximum| desired > maximum) {
            return Ok(false);
        }
        let units = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        match tally.grow(units(current), units(desired)) {
            Ok(()) => Ok(true),
            Err(total) => Err(exceeded(total, tally.max_total())),
        }
    }

    /// The memory growth granted last did not happen.
    pub fn memory_grow_failed(&mut self) {
        self.memory.undo();
    }

    /// The table growth granted last did not happen.
    pub fn table_grow_failed(&mut self) {
        self.tables.undo();
    }

    /// The most memories of the instance.
    pub fn memories(&self) -> usize {
        self.max_memories
    }

    /// The most tables of the instance.
    pub fn tables(&self) -> usize {
        self.max_tables
    }

    /// The most instances of the store.
    pub fn instances(&self) -> usize {
        self.max_instances
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

    #[test]
    fn a_deadline_needs_an_engine_that_interrupts() {
        let one = Duration::from_secs(1);
        let limits = Limits::default().with_deadline(Some(one));
        assert_eq!(limits.deadline_per_call(true).unwrap(), Some(one));
        let e = limits.deadline_per_call(false).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        let none = Limits::trusted();
        assert_eq!(none.deadline_per_call(false).unwrap(), None);
    }

    #[test]
    fn the_defaults_bound_everything_and_trusted_opts_out() {
        let d = Limits::default();
        assert_eq!(d.max_memory_bytes, 256 << 20);
        assert_eq!((d.max_memories, d.max_tables, d.max_instances), (1, 4, 1));
        assert_eq!(d.max_table_elements, 1 << 20);
        assert_eq!(d.deadline, Some(DEFAULT_DEADLINE), "tests build with std");
        let t = Limits::trusted();
        assert_eq!((t.deadline, t.fuel), (None, None));
        assert!(t.max_memory_bytes >= 1 << 32 && t.max_table_elements == u64::MAX);
    }

    #[test]
    fn a_tally_sums_every_memory() {
        // Memories of at most 10 units together.
        let mut tally = ResourceTally::new(10);
        assert_eq!(tally.grow(0, 4), Ok(()));
        assert_eq!(tally.grow(0, 4), Ok(()));
        assert_eq!(tally.grow(4, 6), Ok(()));
        assert_eq!(tally.grow(4, 5), Err(11));
        assert_eq!(tally.total(), 10, "a refusal changes nothing");
        tally.undo();
        assert_eq!(
            tally.total(),
            10,
            "after a refusal there is nothing to undo"
        );
        assert_eq!(tally.grow(6, 4), Ok(()));
        assert_eq!(tally.grow(4, 6), Ok(()));
        tally.undo();
        assert_eq!(tally.total(), 8, "the last granted growth did not happen");
        tally.undo();
        assert_eq!(tally.total(), 8, "undone once only");
        assert_eq!(tally.grow(4, 6), Ok(()));
        // Shrinking never fails, even past the limit (a table being set up).
        assert_eq!(tally.grow(6, 0), Ok(()));
        assert_eq!(tally.total(), 4);
    }

    #[test]
    fn growth_past_a_declared_maximum_is_a_refusal_not_a_limit() {
        let mut tally = GuestTally::new(&Limits::default().with_max_table_elements(1024));
        assert!(matches!(tally.table_growing(1, 137, Some(136)), Ok(false)));
        assert!(matches!(
            tally.table_growing(1, usize::MAX, Some(136)),
            Ok(false)
        ));
        let past = tally.table_growing(1, 2000, None).map_err(|e| e.kind());
        assert_eq!(past, Err(ErrorKind::TableLimitExceeded));
        assert!(matches!(tally.table_growing(0, 136, Some(136)), Ok(true)));
        let memory = tally
            .memory_growing(0, 512 << 20, None)
            .map_err(|e| e.kind());
        assert_eq!(memory, Err(ErrorKind::MemoryLimitExceeded));
    }
}
