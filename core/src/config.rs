//! How engines and instances are set up.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::abi::DEFAULT_CHUNK_SIZE;
use crate::limits::Limits;

/// How an engine is built: what every instance of it can be limited by.
/// The defaults work with [`Limits::default`]: a guest can be interrupted
/// at its deadline and its stack is bounded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Count fuel, so that [`Limits::fuel`] can be enforced. Off by default:
    /// metering costs speed on every engine.
    pub fuel_metering: bool,
    /// Accept modules whose memories declare their own page size (the
    /// custom-page-sizes proposal: pages of 1 byte or 64 KiB), so that a
    /// guest on a device can have a few hundred bytes of memory instead of
    /// a 64 KiB page. Off by default, as in the engines. wasmi and wasmtime
    /// support it; an engine that does not refuses the configuration with
    /// [`crate::ErrorKind::Unsupported`].
    pub custom_page_sizes: bool,
    /// Let a running guest be stopped at its deadline ([`Limits::deadline`]):
    /// epoch interruption on wasmtime (one ticker thread per engine), fuel
    /// slices on wasmi (fuel is metered, without a budget unless asked),
    /// wasmer's interrupter. On by default; off, a deadline is
    /// [`crate::ErrorKind::Unsupported`].
    pub interruption: bool,
    /// The most bytes of stack a guest call may use (its frames, locals and
    /// operands, as the engine counts them): deeper recursion traps with
    /// [`crate::ErrorKind::StackExhausted`], never overflowing the host's
    /// stack. Engine-wide in every runtime, so it is set here rather than in
    /// [`Limits`]. Default: 512 KiB.
    pub max_stack_bytes: u32,
    /// Instantiate from a pool of preallocated instance slots instead of
    /// allocating each instance's memories and tables anew: wasmtime's
    /// pooling allocator, which instantiates in a few microseconds and
    /// reuses its slots. `None` (default): no pool. Only wasmtime has one;
    /// the other engines refuse it with [`crate::ErrorKind::Unsupported`].
    pub pooling: Option<Pooling>,
}

/// The size of an engine's instance pool ([`EngineConfig::pooling`]). The
/// pool reserves address space for every slot up front (not memory: a slot
/// costs memory only once an instance uses it; on wasmtime up to 2 MiB of
/// what an instance touched stays resident after it ends, to be zeroed in
/// place for the next), so its sizes bound every
/// instance of the engine, whatever its [`Limits`] say: an instance that
/// needs more than a slot holds fails with the limit's error kind.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pooling {
    /// How many instances may be live at once; one more fails with
    /// [`crate::ErrorKind::InstanceLimitExceeded`].
    pub instances: u32,
    /// The most linear memory of one memory of an instance, in bytes
    /// (rounded up to whole 64 KiB pages).
    pub memory_bytes: u64,
    /// The most elements of one table of an instance.
    pub table_elements: u32,
}

impl Pooling {
    /// A pool of `instances` slots sized for [`Limits::default`]: 256 MiB
    /// of memory and 1 Mi table elements each.
    pub fn new(instances: u32) -> Self {
        let limits = Limits::default();
        Self {
            instances,
            memory_bytes: limits.max_memory_bytes,
            table_elements: u32::try_from(limits.max_table_elements).unwrap_or(u32::MAX),
        }
    }

    /// Sets the most linear memory of one memory, in bytes.
    #[must_use]
    pub fn with_memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// Sets the most elements of one table.
    #[must_use]
    pub fn with_table_elements(mut self, elements: u32) -> Self {
        self.table_elements = elements;
        self
    }
}

/// The default of [`EngineConfig::max_stack_bytes`].
pub const DEFAULT_MAX_STACK_BYTES: u32 = 512 << 10;

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            fuel_metering: false,
            custom_page_sizes: false,
            interruption: true,
            max_stack_bytes: DEFAULT_MAX_STACK_BYTES,
            pooling: None,
        }
    }
}

impl EngineConfig {
    /// The defaults: interruptible, a 512 KiB guest stack, no fuel metering,
    /// 64 KiB pages only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Turns fuel metering on or off.
    #[must_use]
    pub fn with_fuel_metering(mut self, on: bool) -> Self {
        self.fuel_metering = on;
        self
    }

    /// Turns deadline interruption on or off.
    #[must_use]
    pub fn with_interruption(mut self, on: bool) -> Self {
        self.interruption = on;
        self
    }

    /// Sets the most bytes of stack a guest call may use.
    #[must_use]
    pub fn with_max_stack_bytes(mut self, bytes: u32) -> Self {
        self.max_stack_bytes = bytes;
        self
    }

    /// Instantiates from a pool of instance slots (wasmtime only).
    #[must_use]
    pub fn with_pooling(mut self, pooling: Option<Pooling>) -> Self {
        self.pooling = pooling;
        self
    }

    /// Turns the custom-page-sizes proposal on or off.
    #[must_use]
    pub fn with_custom_page_sizes(mut self, on: bool) -> Self {
        self.custom_page_sizes = on;
        self
    }

    /// The configuration an instance with `limits` needs: fuel metering
    /// when they set a fuel budget, interruption when they set a deadline
    /// (on by default anyway).
    pub fn for_limits(limits: &Limits) -> Self {
        Self {
            fuel_metering: limits.fuel.is_some(),
            interruption: true,
            ..Self::default()
        }
    }
}

/// How an instance is set up. One value can set up any number of instances:
/// each gets an id of its own when it is instantiated.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The id passed to `__frnt_set_id`, the only id the instance's refill
    /// calls are accepted with. `None` (default): a fresh id, unique in the
    /// process, is given to each instance when it is instantiated.
    pub instance_id: Option<i64>,
    /// The chunk size of every stream, in bytes. `None` (default): 64 KiB.
    pub chunk_size: Option<u32>,
    /// What the instance may use.
    pub limits: Limits,
}

// 32-bit so that targets without 64-bit atomics (Cortex-M) build too.
static NEXT_INSTANCE_ID: AtomicU32 = AtomicU32::new(1);

impl InstanceConfig {
    /// The defaults: fresh instance ids, 64 KiB chunks, default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the chunk size in bytes.
    #[must_use]
    pub fn with_chunk_size(mut self, chunk_size: u32) -> Self {
        self.chunk_size = Some(chunk_size);
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Gives every instance set up by this config the id `instance_id`
    /// (instead of a fresh one each).
    #[must_use]
    pub fn with_instance_id(mut self, instance_id: i64) -> Self {
        self.instance_id = Some(instance_id);
        self
    }

    /// The chunk size, or the default.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE)
    }

    /// The id of a new instance: the configured one, or a fresh one.
    pub fn next_instance_id(&self) -> i64 {
        self.instance_id
            .unwrap_or_else(|| i64::from(NEXT_INSTANCE_ID.fetch_add(1, Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_config_gives_each_instance_its_own_id_unless_fixed() {
        let config = InstanceConfig::new();
        assert_ne!(config.next_instance_id(), config.next_instance_id());
        let fixed = config.with_instance_id(7);
        assert_eq!((fixed.next_instance_id(), fixed.next_instance_id()), (7, 7));
        assert_eq!(InstanceConfig::new().chunk_size(), DEFAULT_CHUNK_SIZE);
        assert_eq!(
            InstanceConfig::new().with_chunk_size(4096).chunk_size(),
            4096
        );
    }
}
