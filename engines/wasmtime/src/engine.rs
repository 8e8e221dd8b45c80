//! The wasmtime engine, its compiled modules and their linked form.

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostFunctions, Import, InstanceConfig, Linkage,
    LinkedModule, Module, Result,
};
use wasmtime::{InstancePre, Linker, Store};

use crate::error::{engine_error, from_call, from_instantiation};
use crate::import::{define, import_type};
use crate::instance::WasmtimeInstance;
use crate::memory::MemoryLimiter;
use crate::state::{StoreData, refuel};

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

    /// An engine built for `config`.
    pub fn with_config(config: &EngineConfig) -> Result<Self> {
        let mut wasmtime_config = wasmtime::Config::new();
        wasmtime_config.consume_fuel(config.fuel_metering);
        wasmtime_config.wasm_custom_page_sizes(config.custom_page_sizes);
        let engine = wasmtime::Engine::new(&wasmtime_config)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot build the engine", e))?;
        Ok(Self {
            engine,
            fuel_metering: config.fuel_metering,
        })
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

    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmtimeModule> {
        let module = wasmtime::Module::new(&self.engine, wasm).map_err(|e| {
            engine_error(ErrorKind::InvalidModule, "wasmtime rejected the module", e)
        })?;
        Ok(WasmtimeModule {
            engine: self.clone(),
            module,
        })
    }
}

/// A module compiled by wasmtime.
#[derive(Clone, Debug)]
pub struct WasmtimeModule {
    engine: WasmtimeEngine,
    module: wasmtime::Module,
}

impl Module for WasmtimeModule {
    type Linked = WasmtimeLinkedModule;

    fn imports(&self) -> Vec<Import> {
        self.module
            .imports()
            .map(|i| Import {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                ty: import_type(&i.ty()),
            })
            .collect()
    }

    fn link(&self, host: &HostFunctions) -> Result<WasmtimeLinkedModule> {
        let linkage = host.link(&self.imports())?;
        let mut linker = Linker::<StoreData>::new(&self.engine.engine);
        for func in linkage.funcs() {
            define(&mut linker, func)
                .map_err(|e| engine_error(ErrorKind::Engine, "cannot define a host function", e))?;
        }
        let pre = linker.instantiate_pre(&self.module).map_err(|e| {
            engine_error(
                ErrorKind::MissingImport,
                "wasmtime cannot link the module",
                e,
            )
        })?;
        Ok(WasmtimeLinkedModule {
            engine: self.engine.clone(),
            pre,
            linkage,
        })
    }
}

/// A wasmtime module linked against host functions: wasmtime's
/// `InstancePre`, whose imports are resolved once, for cheap
/// instantiations.
#[derive(Clone)]
pub struct WasmtimeLinkedModule {
    engine: WasmtimeEngine,
    pre: InstancePre<StoreData>,
    linkage: Linkage,
}

// By hand: wasmtime's `InstancePre` is not `Debug`.
impl core::fmt::Debug for WasmtimeLinkedModule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WasmtimeLinkedModule")
            .field("engine", &self.engine)
            .field("module", self.pre.module())
            .field("linkage", &self.linkage)
            .finish()
    }
}

impl LinkedModule for WasmtimeLinkedModule {
    type Instance = WasmtimeInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmtimeInstance> {
        let host = self.linkage.new_host_data(config)?;
        let fuel = config.limits.fuel_per_call(self.engine.fuel_metering)?;
        let instance_id = host.streams().instance_id();
        let mut store = Store::new(
            &self.engine.engine,
            StoreData {
                host,
                memory: None,
                limiter: MemoryLimiter::new(config.limits.max_memory_bytes),
            },
        );
        store.limiter(|state| &mut state.limiter);
        // `instantiate` also runs the start function, like wasmi's
        // `Instance::new`: it gets a budget of its own.
        refuel(&mut store, fuel)?;
        let instance = self
            .pre
            .instantiate(&mut store)
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
            typed.call(&mut store, instance_id).map_err(from_call)?;
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
