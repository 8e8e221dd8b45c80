//! The small, statically dispatched surface every engine crate implements.
//!
//! An [`Engine`] compiles a [`Module`]; a module makes [`Instance`]s; an
//! instance streams payloads into its guest and calls exports. Everything that
//! does not depend on the engine (the layout, the state machine, the checks)
//! lives in [`crate::stream`]; an engine only adapts its memory and binds the
//! import.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::abi::DEFAULT_CHUNK_SIZE;
use crate::error::Result;
use crate::stream::{BoxedSource, StreamStats};

/// How an instance is set up.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The id passed to `__frnt_set_id`; the only id the instance's refill
    /// calls are accepted with. Unique per process by default.
    pub instance_id: i64,
    /// The chunk size of every stream, in bytes (default 64 KiB).
    pub chunk_size: u32,
}

// 32-bit so that targets without 64-bit atomics (Cortex-M) build too.
static NEXT_INSTANCE_ID: AtomicU32 = AtomicU32::new(1);

impl Default for InstanceConfig {
    fn default() -> Self {
        Self {
            instance_id: i64::from(NEXT_INSTANCE_ID.fetch_add(1, Ordering::Relaxed)),
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl InstanceConfig {
    /// The defaults: a fresh instance id and 64 KiB chunks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the chunk size in bytes.
    #[must_use]
    pub fn with_chunk_size(mut self, chunk_size: u32) -> Self {
        self.chunk_size = chunk_size;
        self
    }

    /// Sets the instance id.
    #[must_use]
    pub fn with_instance_id(mut self, instance_id: i64) -> Self {
        self.instance_id = instance_id;
        self
    }
}

/// A WebAssembly runtime bound to the refill ABI.
pub trait Engine: Clone + Send + Sync + 'static {
    /// A compiled module of this engine.
    type Module: Module;

    /// The engine's name as the CLI and the docs spell it (`wasmi`, ...).
    const NAME: &'static str;

    /// Validates and compiles a WebAssembly binary.
    fn compile(&self, wasm: &[u8]) -> Result<Self::Module>;
}

/// A compiled module, ready to be instantiated any number of times.
pub trait Module: Send + Sync {
    /// An instance of this module.
    type Instance: Instance;

    /// Instantiates the module with the refill import, checks the `memory`
    /// and `__frnt__initiate_buffer` exports, and calls `__frnt_set_id` when
    /// the module exports it.
    fn instantiate(&self, config: &InstanceConfig) -> Result<Self::Instance>;
}

/// One instance of a guest with its own memory and streams.
pub trait Instance: Send {
    /// Allocates a buffer in the guest (`__frnt__initiate_buffer`), primes it
    /// with the header and first chunk of `source`, and returns the address of
    /// its descriptor: the argument to pass to the export.
    fn open_stream(&mut self, source: BoxedSource) -> Result<i64>;

    /// Calls an export whose parameters and result are all `i64`. Every open
    /// stream is released when it returns or traps.
    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64>;

    /// Releases every open stream without calling the guest.
    fn close_streams(&mut self);

    /// Copies `len` bytes of guest memory at `addr`, checked against its size.
    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>>;

    /// The live size of the guest's linear memory in bytes.
    fn memory_size(&self) -> u64;

    /// Counters of the streaming work done by this instance so far.
    fn stats(&self) -> StreamStats;

    /// The id this instance was given.
    fn instance_id(&self) -> i64;

    /// Streams each source as one argument, in order, and calls `export` with
    /// their descriptor addresses.
    fn call_with_streams(
        &mut self,
        export: &str,
        sources: impl IntoIterator<Item = BoxedSource>,
    ) -> Result<i64>
    where
        Self: Sized,
    {
        let mut args = Vec::new();
        for source in sources {
            match self.open_stream(source) {
                Ok(descriptor) => args.push(descriptor),
                Err(e) => {
                    self.close_streams();
                    return Err(e);
                }
            }
        }
        self.call(export, &args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_configs_get_distinct_ids() {
        let a = InstanceConfig::new();
        let b = InstanceConfig::new();
        assert_ne!(a.instance_id, b.instance_id);
        assert_eq!(a.chunk_size, DEFAULT_CHUNK_SIZE);
        assert_eq!(a.with_chunk_size(4096).chunk_size, 4096);
    }
}
