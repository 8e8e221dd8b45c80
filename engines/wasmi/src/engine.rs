//! The wasmi engine and its compiled modules.

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostStreams, InstanceConfig, Module, Result,
};
use wasmi::{Linker, Memory, ResourceLimiter, Store};

use crate::error::{engine_error, from_call, instantiation_error};
use crate::import::define_fill_buffer;
use crate::instance::WasmiInstance;
use crate::memory::MemoryLimiter;

/// What one instance's store holds: its streams, its own memory handle and
/// the state of its limits.
#[derive(Debug)]
pub(crate) struct HostState {
    pub(crate) streams: HostStreams,
    /// Set right after instantiation, before the guest can call the import.
    pub(crate) memory: Option<Memory>,
    /// Enforces `Limits::max_memory_bytes` (installed with `Store::limiter`).
    pub(crate) limiter: MemoryLimiter,
    /// The fuel every guest call starts with, or `None` when the engine
    /// does not meter fuel.
    pub(crate) fuel: Option<u64>,
}

/// Gets the store ready for one guest call: a fresh fuel budget (when the
/// engine meters fuel) and no memory-limit denial left from before.
pub(crate) fn prepare_call(store: &mut Store<HostState>) -> Result<()> {
    store.data_mut().limiter.clear_denied();
    if let Some(fuel) = store.data().fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmi cannot set the fuel budget", e))?;
    }
    Ok(())
}

/// The wasmi interpreter, configured for refill.
#[derive(Clone, Debug, Default)]
pub struct WasmiEngine {
    engine: wasmi::Engine,
    fuel_metering: bool,
}

impl WasmiEngine {
    /// An engine with wasmi's default configuration: no fuel metering.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine over an existing wasmi engine (own configuration). Whether
    /// it meters fuel is read from the engine itself.
    pub fn from_engine(engine: wasmi::Engine) -> Self {
        // wasmi does not say publicly whether an engine meters fuel, but a
        // store of an unmetered engine refuses to report its fuel.
        let fuel_metering = Store::new(&engine, ()).get_fuel().is_ok();
        Self {
            engine,
            fuel_metering,
        }
    }

    /// Whether this engine meters fuel, so that [`Limits::fuel`] can be set.
    pub fn meters_fuel(&self) -> bool {
        self.fuel_metering
    }
}

impl Engine for WasmiEngine {
    type Module = WasmiModule;
    const NAME: &'static str = "wasmi";

    fn with_config(config: &EngineConfig) -> Result<Self> {
        let mut wasmi_config = wasmi::Config::default();
        wasmi_config.consume_fuel(config.fuel_metering);
        if config.fuel_metering {
            // wasmi translates lazily by default and charges the translation
            // to the call that first runs a function, in whichever instance:
            // a call's fuel would depend on what other instances ran before.
            // Translating at compile time makes every call's cost its own.
            wasmi_config.compilation_mode(wasmi::CompilationMode::Eager);
        }
        Ok(Self {
            engine: wasmi::Engine::new(&wasmi_config),
            fuel_metering: config.fuel_metering,
        })
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmiModule> {
        let module = wasmi::Module::new(&self.engine, wasm)
            .map_err(|e| engine_error(ErrorKind::InvalidModule, "wasmi rejected the module", e))?;
        Ok(WasmiModule {
            engine: self.engine.clone(),
            fuel_metering: self.fuel_metering,
            module,
        })
    }
}

/// A module compiled by wasmi.
#[derive(Clone, Debug)]
pub struct WasmiModule {
    engine: wasmi::Engine,
    fuel_metering: bool,
    module: wasmi::Module,
}

impl Module for WasmiModule {
    type Instance = WasmiInstance;

    fn imports(&self) -> Vec<(String, String)> {
        self.module
            .imports()
            .map(|i| (i.module().to_owned(), i.name().to_owned()))
            .collect()
    }

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmiInstance> {
        let fuel = config.limits.fuel_per_call(self.fuel_metering)?;
        let streams = HostStreams::new(config)?;
        let mut store = Store::new(
            &self.engine,
            HostState {
                streams,
                memory: None,
                limiter: MemoryLimiter::new(config.limits.max_memory_bytes),
                fuel,
            },
        );
        store.limiter(|state: &mut HostState| -> &mut dyn ResourceLimiter { &mut state.limiter });
        let mut linker = Linker::<HostState>::new(&self.engine);
        define_fill_buffer(&mut linker)
            .map_err(|e| engine_error(ErrorKind::Engine, "cannot define the refill import", e))?;
        // A start function runs with the same budget as any other call.
        prepare_call(&mut store)?;
        let instance = linker
            .instantiate_and_start(&mut store, &self.module)
            .map_err(|e| instantiation_error(e, store.data_mut()))?;

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
            prepare_call(&mut store)?;
            typed
                .call(&mut store, config.instance_id)
                .map_err(|e| from_call(e, store.data_mut()))?;
        }
        Ok(WasmiInstance::new(store, instance, memory, initiate_buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refill_core::Limits;

    #[test]
    fn metering_follows_the_config_and_is_read_back_from_a_wasmi_engine() {
        assert!(!WasmiEngine::new().meters_fuel());
        let metered = WasmiEngine::with_config(&EngineConfig::new().with_fuel_metering(true));
        assert!(metered.is_ok_and(|e| e.meters_fuel()));
        let mut config = wasmi::Config::default();
        config.consume_fuel(true);
        assert!(WasmiEngine::from_engine(wasmi::Engine::new(&config)).meters_fuel());
        assert!(!WasmiEngine::from_engine(wasmi::Engine::default()).meters_fuel());
    }

    #[test]
    fn fuel_on_an_unmetered_engine_is_unsupported_and_names_the_fix() {
        // The smallest module: fuel is checked before anything is instantiated.
        let module = WasmiEngine::new().compile(b"\0asm\x01\0\0\0");
        let limits = Limits::default().with_fuel(Some(1000));
        let config = InstanceConfig::new().with_limits(limits);
        let error = module.and_then(|m| m.instantiate(&config).map(|_| ()));
        let error = error.expect_err("fuel without metering");
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        assert!(error.message().contains("EngineConfig::with_fuel_metering"));
    }
}
