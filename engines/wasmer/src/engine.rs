//! The wasmer engine and its compiled modules.

use refill_core::abi::{INITIATE_BUFFER, MEMORY};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostStreams, InstanceConfig, Module, Result,
};
use wasmer::{FunctionEnv, Imports, Memory, Store};

use crate::error::engine_error;
use crate::import::define_fill_buffer;
use crate::instance::{LocalInstance, WasmerInstance};
use crate::limits::{InstanceLimits, Layout, check_module, singlepass_engine};

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
///
/// Each compilation gets a wasmer engine of its own, with the middlewares
/// that enforce refill's limits (see `limits.rs`): they record where they put
/// their globals in the one module they transform, so they cannot be shared
/// between modules.
#[derive(Clone, Debug)]
pub struct WasmerEngine {
    backend: Backend,
}

/// How a [`WasmerEngine`] compiles.
#[derive(Clone, Debug)]
enum Backend {
    /// Singlepass with refill's middlewares, fuel metering when `true`.
    Singlepass { fuel_metering: bool },
    /// An engine of the embedder's, without refill's middlewares.
    Custom(wasmer::Engine),
}

// By hand: `wasmer::Engine::default()` takes the first compiler wasmer was
// built with (cranelift, llvm, then singlepass), which cargo's feature
// unification elsewhere in a build could change. refill wants singlepass.
impl Default for WasmerEngine {
    fn default() -> Self {
        Self {
            backend: Backend::Singlepass {
                fuel_metering: false,
            },
        }
    }
}

impl WasmerEngine {
    /// An engine with wasmer's singlepass compiler, without fuel metering.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine over an existing wasmer engine (own compiler, own
    /// configuration). It has none of refill's middlewares, so its instances
    /// can have neither a fuel limit nor a memory limit below 4 GiB: asking for
    /// one is [`ErrorKind::Unsupported`].
    pub fn from_engine(engine: wasmer::Engine) -> Self {
        Self {
            backend: Backend::Custom(engine),
        }
    }

    /// Whether the engine meters fuel, so that its instances can have
    /// [`refill_core::Limits::fuel`].
    pub fn fuel_metering(&self) -> bool {
        matches!(
            self.backend,
            Backend::Singlepass {
                fuel_metering: true
            }
        )
    }
}

impl Engine for WasmerEngine {
    type Module = WasmerModule;
    const NAME: &'static str = "wasmer";

    fn with_config(config: &EngineConfig) -> Result<Self> {
        Ok(Self {
            backend: Backend::Singlepass {
                fuel_metering: config.fuel_metering,
            },
        })
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmerModule> {
        let (engine, limiter) = match &self.backend {
            Backend::Singlepass { fuel_metering } => {
                let (engine, limiter) = singlepass_engine(*fuel_metering);
                (engine, Some(limiter))
            }
            Backend::Custom(engine) => (engine.clone(), None),
        };
        // `from_binary`, not `new`: `new` also parses text when wasmer's `wat`
        // feature is on, and refill takes binaries only.
        let module = wasmer::Module::from_binary(&engine, wasm)
            .map_err(|e| engine_error(ErrorKind::InvalidModule, "wasmer rejected the module", e))?;
        let layout = limiter.map(|limiter| limiter.layout()).transpose()?;
        Ok(WasmerModule {
            engine,
            module,
            layout,
            metered: self.fuel_metering(),
        })
    }
}

/// A module compiled by wasmer.
#[derive(Clone, Debug)]
pub struct WasmerModule {
    engine: wasmer::Engine,
    module: wasmer::Module,
    /// What refill's memory limiter did to the module (`None`: compiled by an
    /// engine from [`WasmerEngine::from_engine`], without it).
    layout: Option<Layout>,
    /// Whether the module was compiled with fuel metering.
    metered: bool,
}

impl Module for WasmerModule {
    type Instance = WasmerInstance;

    fn imports(&self) -> Vec<(String, String)> {
        self.module
            .imports()
            .map(|i| (i.module().to_owned(), i.name().to_owned()))
            .collect()
    }

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmerInstance> {
        check_module(self.layout.as_ref(), &config.limits)?;
        config.limits.fuel_per_call(self.metered)?;
        // The store is `!Send`: it is created, used and dropped on the
        // instance's own thread (see `instance.rs`).
        let (module, config) = (self.clone(), config.clone());
        WasmerInstance::spawn(config.instance_id, move || module.instantiate_here(&config))
    }
}

impl WasmerModule {
    /// Instantiates the module on the calling thread, which owns the result.
    fn instantiate_here(&self, config: &InstanceConfig) -> Result<LocalInstance> {
        let fuel = config.limits.fuel_per_call(self.metered)?;
        let streams = HostStreams::new(config)?;
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
        // `Instance::new` would also run the start function, like wasmi's
        // `instantiate_and_start`; refill's limiter has moved it to an
        // export, run below once the limits are set.
        let instance = wasmer::Instance::new(&mut store, &self.module, &imports).map_err(|e| {
            engine_error(
                ErrorKind::Instantiation,
                "wasmer cannot instantiate the module",
                e,
            )
        })?;
        let limits = InstanceLimits::install(
            &mut store,
            &instance,
            self.layout.as_ref(),
            &config.limits,
            fuel,
        )?;

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

        let mut local = LocalInstance::new(store, env, instance, memory, initiate_buffer, limits);
        local.start()?;
        local.set_id(config.instance_id)?;
        Ok(local)
    }
}
