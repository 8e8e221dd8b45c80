//! The wasmer engine and its compiled modules.

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{Engine, Error, ErrorKind, HostStreams, InstanceConfig, Module, Result};
use wasmer::sys::Singlepass;
use wasmer::{FunctionEnv, Imports, Memory, Store};

use crate::error::engine_error;
use crate::import::define_fill_buffer;
use crate::instance::{LocalInstance, WasmerInstance};

/// What one instance's function environment holds: its streams and its own
/// memory handle. (wasmer's `Store` carries no data of its own, so the state
/// lives in the `FunctionEnv` the import is created with.)
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) streams: HostStreams,
    /// Set right after instantiation, before the guest can call the import.
    pub(crate) memory: Option<Memory>,
}

/// wasmer with its singlepass compiler, configured for refill.
#[derive(Clone, Debug)]
pub struct WasmerEngine {
    engine: wasmer::Engine,
}

// By hand: `wasmer::Engine::default()` takes the first compiler wasmer was
// built with (cranelift, llvm, then singlepass), which cargo's feature
// unification elsewhere in a build could change. refill wants singlepass.
impl Default for WasmerEngine {
    fn default() -> Self {
        Self::from_engine(Singlepass::default().into())
    }
}

impl WasmerEngine {
    /// An engine with wasmer's singlepass compiler in its default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine over an existing wasmer engine (own compiler, own configuration).
    pub fn from_engine(engine: wasmer::Engine) -> Self {
        Self { engine }
    }
}

impl Engine for WasmerEngine {
    type Module = WasmerModule;
    const NAME: &'static str = "wasmer";

    fn compile(&self, wasm: &[u8]) -> Result<WasmerModule> {
        // `from_binary`, not `new`: `new` also parses text when wasmer's `wat`
        // feature is on, and refill takes binaries only.
        let module = wasmer::Module::from_binary(&self.engine, wasm)
            .map_err(|e| engine_error(ErrorKind::InvalidModule, "wasmer rejected the module", e))?;
        Ok(WasmerModule {
            engine: self.engine.clone(),
            module,
        })
    }
}

/// A module compiled by wasmer.
#[derive(Clone, Debug)]
pub struct WasmerModule {
    engine: wasmer::Engine,
    module: wasmer::Module,
}

impl Module for WasmerModule {
    type Instance = WasmerInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmerInstance> {
        // The store is `!Send`: it is created, used and dropped on the
        // instance's own thread (see `instance.rs`).
        let (module, config) = (self.clone(), config.clone());
        WasmerInstance::spawn(config.instance_id, move || module.instantiate_here(&config))
    }
}

impl WasmerModule {
    /// Instantiates the module on the calling thread, which owns the result.
    fn instantiate_here(&self, config: &InstanceConfig) -> Result<LocalInstance> {
        let streams = HostStreams::new(config.instance_id, config.chunk_size)?;
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(
            &mut store,
            HostState {
                streams,
                memory: None,
            },
        );
        let mut imports = Imports::new();
        define_fill_buffer(&mut store, &env, &mut imports);
        // `Instance::new` also runs the start function, like wasmi's
        // `instantiate_and_start`.
        let instance = wasmer::Instance::new(&mut store, &self.module, &imports).map_err(|e| {
            engine_error(
                ErrorKind::Instantiation,
                "wasmer cannot instantiate the module",
                e,
            )
        })?;

        let memory = instance
            .exports
            .get_memory(MEMORY)
            .map_err(|_| Error::missing_export(MEMORY))?
            .clone();
        env.as_mut(&mut store).memory = Some(memory.clone());

        let initiate_buffer = instance
            .exports
            .get_function(INITIATE_BUFFER)
            .map_err(|_| Error::missing_export(INITIATE_BUFFER))?;
        let initiate_buffer = initiate_buffer.typed::<u32, i64>(&store).map_err(|_| {
            Error::signature_mismatch(INITIATE_BUFFER, "(i32) -> i64", initiate_buffer.ty(&store))
        })?;

        if let Ok(set_id) = instance.exports.get_function(SET_ID) {
            let typed = set_id
                .typed::<i64, ()>(&store)
                .map_err(|_| Error::signature_mismatch(SET_ID, "(i64) -> ()", set_id.ty(&store)))?;
            typed
                .call(&mut store, config.instance_id)
                .map_err(crate::error::from_call)?;
        }
        Ok(LocalInstance::new(
            store,
            env,
            instance,
            memory,
            initiate_buffer,
        ))
    }
}
