//! The wasmtime engine and its compiled modules.

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostStreams, InstanceConfig, Module, Result,
};
use wasmtime::{Linker, Memory, Store};

use crate::error::{engine_error, from_call, from_instantiation};
use crate::import::define_fill_buffer;
use crate::instance::{WasmtimeInstance, refuel};
use crate::memory::MemoryLimiter;

/// What one instance's store holds: its streams, its own memory handle and
/// the limiter of its memory.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) streams: HostStreams,
    /// Set right after instantiation, before the guest can call the import.
    pub(crate) memory: Option<Memory>,
    /// Enforces `Limits::max_memory_bytes` on every memory of the instance.
    pub(crate) limiter: MemoryLimiter,
}

/// The wasmtime JIT (Cranelift), configured for refill.
#[derive(Clone, Debug, Default)]
pub struct WasmtimeEngine {
    engine: wasmtime::Engine,
    /// Whether the engine was built with `consume_fuel`, so that
    /// `Limits::fuel` can be enforced.
    fuel_metering: bool,
}

impl WasmtimeEngine {
    /// An engine with wasmtime's default configuration (no fuel metering).
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine over an existing wasmtime engine (own configuration). Fuel
    /// limits work if it was built with `Config::consume_fuel(true)`.
    pub fn from_engine(engine: wasmtime::Engine) -> Self {
        // wasmtime does not expose an engine's configuration; a store of a
        // metering engine is the one that has a fuel gauge.
        let fuel_metering = Store::new(&engine, ()).get_fuel().is_ok();
        Self {
            engine,
            fuel_metering,
        }
    }
}

impl Engine for WasmtimeEngine {
    type Module = WasmtimeModule;
    const NAME: &'static str = "wasmtime";

    fn with_config(config: &EngineConfig) -> Result<Self> {
        let mut wasmtime_config = wasmtime::Config::new();
        wasmtime_config.consume_fuel(config.fuel_metering);
        let engine = wasmtime::Engine::new(&wasmtime_config)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot build the engine", e))?;
        Ok(Self {
            engine,
            fuel_metering: config.fuel_metering,
        })
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmtimeModule> {
        let module = wasmtime::Module::new(&self.engine, wasm).map_err(|e| {
            engine_error(ErrorKind::InvalidModule, "wasmtime rejected the module", e)
        })?;
        Ok(WasmtimeModule {
            engine: self.engine.clone(),
            fuel_metering: self.fuel_metering,
            module,
        })
    }
}

/// A module compiled by wasmtime.
#[derive(Clone, Debug)]
pub struct WasmtimeModule {
    engine: wasmtime::Engine,
    fuel_metering: bool,
    module: wasmtime::Module,
}

impl Module for WasmtimeModule {
    type Instance = WasmtimeInstance;

    fn imports(&self) -> Vec<(String, String)> {
        self.module
            .imports()
            .map(|i| (i.module().to_owned(), i.name().to_owned()))
            .collect()
    }

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmtimeInstance> {
        let streams = HostStreams::new(config)?;
        let fuel = config.limits.fuel_per_call(self.fuel_metering)?;
        let mut store = Store::new(
            &self.engine,
            HostState {
                streams,
                memory: None,
                limiter: MemoryLimiter::new(config.limits.max_memory_bytes),
            },
        );
        store.limiter(|state| &mut state.limiter);
        let mut linker = Linker::<HostState>::new(&self.engine);
        define_fill_buffer(&mut linker)
            .map_err(|e| engine_error(ErrorKind::Engine, "cannot define the refill import", e))?;
        // `instantiate` also runs the start function, like wasmi's
        // `instantiate_and_start`: it gets a budget of its own.
        refuel(&mut store, fuel)?;
        let instance = linker
            .instantiate(&mut store, &self.module)
            .map_err(from_instantiation)?;

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
            refuel(&mut store, fuel)?;
            typed
                .call(&mut store, config.instance_id)
                .map_err(from_call)?;
        }
        Ok(WasmtimeInstance::new(
            store,
            instance,
            memory,
            initiate_buffer,
            fuel,
        ))
    }
}
