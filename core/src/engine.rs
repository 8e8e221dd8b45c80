//! The small, statically dispatched surface every engine crate implements.
//!
//! An [`Engine`] compiles a [`Module`]; a module is linked once against a
//! set of host functions into a [`LinkedModule`]; a linked module makes
//! [`crate::Instance`]s cheaply, with no lookups by name. Everything that
//! does not depend on the engine (the layout, the state machine, the checks,
//! the host functions) lives elsewhere in this crate; an engine only adapts
//! its memory, binds host functions and calls exports.

use alloc::vec::Vec;

use crate::config::InstanceConfig;
use crate::error::Result;
use crate::host::{HostFunctions, Import};
use crate::instance::Instance;

/// A WebAssembly runtime bound to refill.
pub trait Engine: Clone + Send + Sync + 'static {
    /// A compiled module of this engine.
    type Module: Module;

    /// The engine's name as the CLI and the docs spell it (`wasmi`, ...).
    fn name(&self) -> &'static str;

    /// Validates and compiles a WebAssembly binary.
    fn compile(&self, wasm: &[u8]) -> Result<Self::Module>;
}

/// A compiled module, ready to be linked and instantiated any number of times.
pub trait Module: Send + Sync {
    /// The module linked against host functions.
    type Linked: LinkedModule;

    /// Every import of the module, in the module's order.
    fn imports(&self) -> Vec<Import>;

    /// Links the module's imports against `host`, once: every import must
    /// be a function `host` serves with exactly its type, or the error
    /// ([`crate::ErrorKind::MissingImport`]) names every one that is not.
    fn link(&self, host: &HostFunctions) -> Result<Self::Linked>;

    /// Links against refill's own import ([`HostFunctions::new`]) and
    /// instantiates. Each call links anew: to make many instances, link
    /// once with [`Module::link`] and instantiate the [`LinkedModule`].
    fn instantiate(
        &self,
        config: &InstanceConfig,
    ) -> Result<<Self::Linked as LinkedModule>::Instance> {
        self.link(&HostFunctions::new())?.instantiate(config)
    }
}

/// A module linked against host functions: instantiates without resolving
/// anything again.
///
/// `Send` is a capability: [`LinkedModule::Instance`] can move to and be
/// used from any thread; [`LinkedModule::LocalInstance`] stays on the thread
/// that made it and may be faster there. Engines whose instances are `Send`
/// anyway (wasmi, wasmtime) make the same type for both; wasmer, whose
/// store is thread-bound, makes its store itself the local instance and
/// a handle to a store on a worker thread the `Send` one.
pub trait LinkedModule: Clone + Send + Sync {
    /// An instance of this module that can cross threads.
    type Instance: Instance + Send;

    /// An instance of this module for the thread that makes it: no `Send`
    /// asked, so that no engine has to hand its operations to another
    /// thread. Where the engine's instances are `Send` anyway, this is
    /// [`LinkedModule::Instance`].
    type LocalInstance: Instance;

    /// Instantiates the module: a fresh store with the instance's host data
    /// (a fresh id unless `config` fixes one, fresh host-function states),
    /// its imports bound by position, the `memory` and
    /// `__frnt__initiate_buffer` exports checked, and `__frnt_set_id` called
    /// when the module exports it.
    fn instantiate(&self, config: &InstanceConfig) -> Result<Self::Instance>;

    /// Instantiates the module as [`LinkedModule::instantiate`] does, for
    /// use on the calling thread only.
    fn instantiate_local(&self, config: &InstanceConfig) -> Result<Self::LocalInstance>;
}
