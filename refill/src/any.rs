//! Run-time choice among the compiled engines: enums over each engine's
//! engine, module and instance types, dispatched by `enum_dispatch` through
//! object-safe traits that speak only refill-core types.

use enum_dispatch::enum_dispatch;
use refill_core::{
    BoxedSource, Engine, EngineConfig, Error, ErrorKind, Instance, InstanceConfig, Module, Result,
    StreamStats,
};

#[cfg(feature = "wasmer")]
use refill_wasmer::{WasmerEngine, WasmerInstance, WasmerModule};
#[cfg(feature = "wasmi")]
use refill_wasmi::{WasmiEngine, WasmiInstance, WasmiModule};
#[cfg(feature = "wasmtime")]
use refill_wasmtime::{WasmtimeEngine, WasmtimeInstance, WasmtimeModule};

use crate::EngineKind;

/// An engine chosen at run time: compiles modules into [`AnyModule`]s.
#[enum_dispatch]
pub trait DynEngine {
    /// The engine's name.
    fn name(&self) -> &'static str;
    /// Validates and compiles a WebAssembly binary.
    fn compile(&self, wasm: &[u8]) -> Result<AnyModule>;
}

/// A module of an engine chosen at run time.
#[enum_dispatch]
pub trait DynModule {
    /// Instantiates the module (see [`Module::instantiate`]).
    fn instantiate(&self, config: &InstanceConfig) -> Result<AnyInstance>;
    /// See [`Module::imports`].
    fn imports(&self) -> Vec<(String, String)>;
}

/// An instance of an engine chosen at run time: [`Instance`] without generics.
#[enum_dispatch]
pub trait DynInstance {
    /// See [`Instance::open_stream`].
    fn open_stream(&mut self, source: BoxedSource) -> Result<i64>;
    /// See [`Instance::call`].
    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64>;
    /// See [`Instance::open_stream_with_chunk`].
    fn open_stream_with_chunk(&mut self, source: BoxedSource, chunk_size: u32) -> Result<i64>;
    /// See [`Instance::place_whole`].
    fn place_whole(&mut self, source: BoxedSource) -> Result<i64>;
    /// See [`Instance::close_streams`].
    fn close_streams(&mut self);
    /// See [`Instance::read_memory`].
    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>>;
    /// See [`Instance::memory_size`].
    fn memory_size(&self) -> u64;
    /// See [`Instance::stats`].
    fn stats(&self) -> StreamStats;
    /// See [`Instance::instance_id`].
    fn instance_id(&self) -> i64;
}

impl<E> DynEngine for E
where
    E: Engine,
    E::Module: Into<AnyModule>,
{
    fn name(&self) -> &'static str {
        E::NAME
    }

    fn compile(&self, wasm: &[u8]) -> Result<AnyModule> {
        Engine::compile(self, wasm).map(Into::into)
    }
}

/// Each engine's module type forwards to its [`Module`] impl. (A blanket
/// impl would collide with [`AnyModule`]'s own `Module` impl.)
macro_rules! dyn_module_via_module {
    ($($(#[$cfg:meta])* $ty:ty),* $(,)?) => {$(
        $(#[$cfg])*
        impl DynModule for $ty {
            fn instantiate(&self, config: &InstanceConfig) -> Result<AnyInstance> {
                Module::instantiate(self, config).map(Into::into)
            }
            fn imports(&self) -> Vec<(String, String)> {
                Module::imports(self)
            }
        }
    )*};
}

dyn_module_via_module!(
    #[cfg(feature = "wasmi")]
    WasmiModule,
    #[cfg(feature = "wasmtime")]
    WasmtimeModule,
    #[cfg(feature = "wasmer")]
    WasmerModule,
);

/// Each engine's instance type forwards to its [`Instance`] impl. (A blanket
/// impl would collide with [`AnyInstance`]'s own `Instance` impl.)
macro_rules! dyn_instance_via_instance {
    ($($(#[$cfg:meta])* $ty:ty),* $(,)?) => {$(
        $(#[$cfg])*
        impl DynInstance for $ty {
            fn open_stream(&mut self, source: BoxedSource) -> Result<i64> {
                Instance::open_stream(self, source)
            }
            fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
                Instance::call(self, export, args)
            }
            fn open_stream_with_chunk(&mut self, source: BoxedSource, chunk_size: u32) -> Result<i64> {
                Instance::open_stream_with_chunk(self, source, chunk_size)
            }
            fn place_whole(&mut self, source: BoxedSource) -> Result<i64> {
                Instance::place_whole(self, source)
            }
            fn close_streams(&mut self) {
                Instance::close_streams(self);
            }
            fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
                Instance::read_memory(self, addr, len)
            }
            fn memory_size(&self) -> u64 {
                Instance::memory_size(self)
            }
            fn stats(&self) -> StreamStats {
                Instance::stats(self)
            }
            fn instance_id(&self) -> i64 {
                Instance::instance_id(self)
            }
        }
    )*};
}

dyn_instance_via_instance!(
    #[cfg(feature = "wasmi")]
    WasmiInstance,
    #[cfg(feature = "wasmtime")]
    WasmtimeInstance,
    #[cfg(feature = "wasmer")]
    WasmerInstance,
);

/// One of the compiled engines, chosen at run time.
#[enum_dispatch(DynEngine)]
#[derive(Clone, Debug)]
pub enum AnyEngine {
    /// wasmi.
    #[cfg(feature = "wasmi")]
    Wasmi(WasmiEngine),
    /// wasmtime.
    #[cfg(feature = "wasmtime")]
    Wasmtime(WasmtimeEngine),
    /// wasmer.
    #[cfg(feature = "wasmer")]
    Wasmer(WasmerEngine),
}

/// A module compiled by one of the compiled engines.
#[enum_dispatch(DynModule)]
#[derive(Debug)]
pub enum AnyModule {
    /// wasmi.
    #[cfg(feature = "wasmi")]
    Wasmi(WasmiModule),
    /// wasmtime.
    #[cfg(feature = "wasmtime")]
    Wasmtime(WasmtimeModule),
    /// wasmer.
    #[cfg(feature = "wasmer")]
    Wasmer(WasmerModule),
}

/// An instance under one of the compiled engines.
#[enum_dispatch(DynInstance)]
#[derive(Debug)]
pub enum AnyInstance {
    /// wasmi.
    #[cfg(feature = "wasmi")]
    Wasmi(WasmiInstance),
    /// wasmtime.
    #[cfg(feature = "wasmtime")]
    Wasmtime(WasmtimeInstance),
    /// wasmer.
    #[cfg(feature = "wasmer")]
    Wasmer(WasmerInstance),
}

impl AnyEngine {
    /// The engine of `kind` with the default [`EngineConfig`], or
    /// [`ErrorKind::UnknownEngine`] if this build does not have it compiled in.
    pub fn new(kind: EngineKind) -> Result<Self> {
        Self::with_config(kind, &EngineConfig::default())
    }

    /// The engine of `kind` built for `config` (fuel metering, ...).
    pub fn with_config(kind: EngineKind, config: &EngineConfig) -> Result<Self> {
        match kind {
            #[cfg(feature = "wasmi")]
            EngineKind::Wasmi => Ok(WasmiEngine::with_config(config)?.into()),
            #[cfg(feature = "wasmtime")]
            EngineKind::Wasmtime => Ok(WasmtimeEngine::with_config(config)?.into()),
            #[cfg(feature = "wasmer")]
            EngineKind::Wasmer => Ok(WasmerEngine::with_config(config)?.into()),
            #[allow(unreachable_patterns)]
            other => Err(Error::new(
                ErrorKind::UnknownEngine,
                format!(
                    "engine `{other}` is not compiled into this build (enable the cargo feature `{other}`)"
                ),
            )),
        }
    }

    /// The engine called `name` (`wasmi`, `wasmtime`, `wasmer`).
    pub fn by_name(name: &str) -> Result<Self> {
        Self::new(name.parse()?)
    }

    /// Every compiled engine, in the order of [`EngineKind::ALL`].
    pub fn all_compiled() -> Vec<Self> {
        EngineKind::compiled()
            .filter_map(|k| Self::new(k).ok())
            .collect()
    }

    /// Which engine this is.
    pub fn kind(&self) -> EngineKind {
        match self {
            #[cfg(feature = "wasmi")]
            Self::Wasmi(_) => EngineKind::Wasmi,
            #[cfg(feature = "wasmtime")]
            Self::Wasmtime(_) => EngineKind::Wasmtime,
            #[cfg(feature = "wasmer")]
            Self::Wasmer(_) => EngineKind::Wasmer,
        }
    }
}

impl Default for AnyEngine {
    /// The [`crate::DefaultEngine`].
    fn default() -> Self {
        crate::DefaultEngine::default().into()
    }
}

/// So that code generic over [`Module`] (a freenet `Contract`, say) takes a
/// module of an engine chosen at run time too.
impl Module for AnyModule {
    type Instance = AnyInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<AnyInstance> {
        DynModule::instantiate(self, config)
    }

    fn imports(&self) -> Vec<(String, String)> {
        DynModule::imports(self)
    }
}

impl Instance for AnyInstance {
    fn open_stream(&mut self, source: BoxedSource) -> Result<i64> {
        DynInstance::open_stream(self, source)
    }
    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        DynInstance::call(self, export, args)
    }
    fn open_stream_with_chunk(&mut self, source: BoxedSource, chunk_size: u32) -> Result<i64> {
        DynInstance::open_stream_with_chunk(self, source, chunk_size)
    }
    fn place_whole(&mut self, source: BoxedSource) -> Result<i64> {
        DynInstance::place_whole(self, source)
    }
    fn close_streams(&mut self) {
        DynInstance::close_streams(self);
    }
    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
        DynInstance::read_memory(self, addr, len)
    }
    fn memory_size(&self) -> u64 {
        DynInstance::memory_size(self)
    }
    fn stats(&self) -> StreamStats {
        DynInstance::stats(self)
    }
    fn instance_id(&self) -> i64 {
        DynInstance::instance_id(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_engine_is_either_built_or_a_typed_error() {
        for kind in EngineKind::ALL {
            match AnyEngine::new(kind) {
                Ok(engine) => {
                    assert!(kind.is_compiled());
                    assert_eq!(engine.kind(), kind);
                    assert_eq!(engine.name(), kind.name());
                }
                Err(e) => {
                    assert!(!kind.is_compiled());
                    assert_eq!(e.kind(), ErrorKind::UnknownEngine);
                }
            }
        }
        assert_eq!(
            AnyEngine::all_compiled().len(),
            EngineKind::compiled().count()
        );
        assert_eq!(AnyEngine::default().kind(), EngineKind::default_kind());
    }

    #[test]
    fn by_name_rejects_unknown_names() {
        let e = AnyEngine::by_name("v8").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownEngine);
    }
}
