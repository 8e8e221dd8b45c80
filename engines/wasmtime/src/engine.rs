//! The wasmtime engine and its compiled modules.

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{Engine, Error, ErrorKind, HostStreams, InstanceConfig, Module, Result};
use wasmtime::{Linker, Memory, Store};

use crate::error::engine_error;
use crate::import::define_fill_buffer;
use crate::instance::WasmtimeInstance;

/// What one instance's store holds: its streams and its own memory handle.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) streams: HostStreams,
    /// Set right after instantiation, before the guest can call the import.
    pub(crate) memory: Option<Memory>,
}

/// The wasmtime JIT (Cranelift), configured for refill.
#[derive(Clone, Debug, Default)]
pub struct WasmtimeEngine {
    engine: wasmtime::Engine,
}

impl WasmtimeEngine {
    /// An engine with wasmtime's default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine over an existing wasmtime engine (own configuration).
    pub fn from_engine(engine: wasmtime::Engine) -> Self {
        Self { engine }
    }
}

impl Engine for WasmtimeEngine {
    type Module = WasmtimeModule;
    const NAME: &'static str = "wasmtime";

    fn compile(&self, wasm: &[u8]) -> Result<WasmtimeModule> {
        let module = wasmtime::Module::new(&self.engine, wasm).map_err(|e| {
            engine_error(ErrorKind::InvalidModule, "wasmtime rejected the module", e)
        })?;
        Ok(WasmtimeModule {
            engine: self.engine.clone(),
            module,
        })
    }
}

/// A module compiled by wasmtime.
#[derive(Clone, Debug)]
pub struct WasmtimeModule {
    engine: wasmtime::Engine,
    module: wasmtime::Module,
}

impl Module for WasmtimeModule {
    type Instance = WasmtimeInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmtimeInstance> {
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
        // `instantiate` also runs the start function, like wasmi's
        // `instantiate_and_start`.
        let instance = linker.instantiate(&mut store, &self.module).map_err(|e| {
            engine_error(
                ErrorKind::Instantiation,
                "wasmtime cannot instantiate the module",
                e,
            )
        })?;

        let memory = instance
            .get_memory(&mut store, MEMORY)
            .ok_or_else(|| Error::missing_export(MEMORY))?;
        store.data_mut().memory = Some(memory);

        let initiate_buffer = instance
            .get_func(&mut store, INITIATE_BUFFER)
            .ok_or_else(|| Error::missing_export(INITIATE_BUFFER))?;
        let initiate_buffer = initiate_buffer.typed::<u32, i64>(&store).map_err(|_| {
            Error::signature_mismatch(INITIATE_BUFFER, "(i32) -> i64", initiate_buffer.ty(&store))
        })?;

        if let Some(set_id) = instance.get_func(&mut store, SET_ID) {
            let typed = set_id
                .typed::<i64, ()>(&store)
                .map_err(|_| Error::signature_mismatch(SET_ID, "(i64) -> ()", set_id.ty(&store)))?;
            typed
                .call(&mut store, config.instance_id)
                .map_err(crate::error::from_call)?;
        }
        Ok(WasmtimeInstance::new(
            store,
            instance,
            memory,
            initiate_buffer,
        ))
    }
}
