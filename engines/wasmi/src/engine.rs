//! The wasmi engine and its compiled modules.

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{Engine, Error, ErrorKind, HostStreams, InstanceConfig, Module, Result};
use wasmi::{Linker, Memory, Store};

use crate::error::engine_error;
use crate::import::define_fill_buffer;
use crate::instance::WasmiInstance;

/// What one instance's store holds: its streams and its own memory handle.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) streams: HostStreams,
    /// Set right after instantiation, before the guest can call the import.
    pub(crate) memory: Option<Memory>,
}

/// The wasmi interpreter, configured for refill.
#[derive(Clone, Debug, Default)]
pub struct WasmiEngine {
    engine: wasmi::Engine,
}

impl WasmiEngine {
    /// An engine with wasmi's default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine over an existing wasmi engine (own configuration).
    pub fn from_engine(engine: wasmi::Engine) -> Self {
        Self { engine }
    }
}

impl Engine for WasmiEngine {
    type Module = WasmiModule;
    const NAME: &'static str = "wasmi";

    fn compile(&self, wasm: &[u8]) -> Result<WasmiModule> {
        let module = wasmi::Module::new(&self.engine, wasm)
            .map_err(|e| engine_error(ErrorKind::InvalidModule, "wasmi rejected the module", e))?;
        Ok(WasmiModule {
            engine: self.engine.clone(),
            module,
        })
    }
}

/// A module compiled by wasmi.
#[derive(Clone, Debug)]
pub struct WasmiModule {
    engine: wasmi::Engine,
    module: wasmi::Module,
}

impl Module for WasmiModule {
    type Instance = WasmiInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmiInstance> {
        let streams = HostStreams::new(config.instance_id, config.chunk_size)?;
        let mut store = Store::new(
            &self.engine,
            HostState {
                streams,
                memory: None,
            },
        );
        let mut linker = Linker::<HostState>::new(&self.engine);
        define_fill_buffer(&mut linker)
            .map_err(|e| engine_error(ErrorKind::Engine, "cannot define the refill import", e))?;
        let instance = linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| {
                engine_error(
                    ErrorKind::Instantiation,
                    "wasmi cannot instantiate the module",
                    e,
                )
            })?;

        let memory = instance
            .get_memory(&store, MEMORY)
            .ok_or_else(|| Error::missing_export(MEMORY))?;
        store.data_mut().memory = Some(memory);

        let initiate_buffer = instance
            .get_func(&store, INITIATE_BUFFER)
            .ok_or_else(|| Error::missing_export(INITIATE_BUFFER))?;
        let initiate_buffer = initiate_buffer.typed::<u32, i64>(&store).map_err(|_| {
            Error::signature_mismatch(INITIATE_BUFFER, "(i32) -> i64", initiate_buffer.ty(&store))
        })?;

        if let Some(set_id) = instance.get_func(&store, SET_ID) {
            let typed = set_id
                .typed::<i64, ()>(&store)
                .map_err(|_| Error::signature_mismatch(SET_ID, "(i64) -> ()", set_id.ty(&store)))?;
            typed
                .call(&mut store, config.instance_id)
                .map_err(crate::error::from_call)?;
        }
        Ok(WasmiInstance::new(store, instance, memory, initiate_buffer))
    }
}
