//! What one instance's function environment holds.

use refill_core::HostData;
use wasmer::Memory;

/// One instance's data, reached by every host function it calls: refill-core's
/// host data (streams, id, host-function states) and its own memory handle.
/// (wasmer's `Store` carries no data of its own, so this lives in the
/// `FunctionEnv` the instance's host functions are created with.)
#[derive(Debug)]
pub(crate) struct StoreData {
    pub(crate) host: HostData,
    /// Set right after instantiation; a host function called before (from a
    /// start function wasmer runs inside `Instance::new`) has no memory to
    /// work with.
    pub(crate) memory: Option<Memory>,
}
