//! Run-time choice among the compiled engines: one enum per engine type
//! (engine, module, linked module, instance), generated from the engine
//! table, each implementing refill-core's own trait by matching on the
//! variant. That match is what `enum_dispatch` would write; it is written
//! here by the table macro because `enum_dispatch` can only implement
//! traits defined in the crate that uses it, and core's traits are the one
//! definition every engine implements.

use alloc::format;
use alloc::vec::Vec;

use refill_core::{
    BoxedSink, BoxedSource, Engine, EngineConfig, Error, ErrorKind, HostFunctions, Import,
    Instance, InstanceConfig, LinkedModule, Module, Result, StreamOptions, StreamStats,
    host::BoxedState,
};

use crate::EngineKind;

/// The `Any*` enums, their conversions and their core trait impls, for the
/// rows of the engine table.
macro_rules! define_any {
    ($($variant:ident $name:ident $feature:literal $krate:ident $engine:ident $module:ident
       $linked:ident $instance:ident $version:literal $summary:literal;)*) => {
        /// One of the compiled engines, chosen at run time.
        #[derive(Clone, Debug)]
        pub enum AnyEngine {
            $(
                #[doc = concat!(stringify!($name), ".")]
                #[cfg(feature = $feature)]
                $variant($krate::$engine),
            )*
        }

        /// A module compiled by one of the compiled engines.
        #[derive(Clone, Debug)]
        pub enum AnyModule {
            $(
                #[doc = concat!(stringify!($name), ".")]
                #[cfg(feature = $feature)]
                $variant($krate::$module),
            )*
        }

        /// A module of one of the compiled engines, linked against host functions.
        #[derive(Clone, Debug)]
        pub enum AnyLinkedModule {
            $(
                #[doc = concat!(stringify!($name), ".")]
                #[cfg(feature = $feature)]
                $variant($krate::$linked),
            )*
        }

        /// An instance under one of the compiled engines: `Send`, on every
        /// engine (on wasmer, a handle to a store kept by a worker thread).
        #[derive(Debug)]
        pub enum AnyInstance {
            $(
                #[doc = concat!(stringify!($name), ".")]
                #[cfg(feature = $feature)]
                $variant($krate::$instance),
            )*
        }

        /// An instance under one of the compiled engines, for the thread
        /// that made it ([`LinkedModule::instantiate_local`]): not `Send`,
        /// because wasmer's is not (its store itself, with no hand-over to a
        /// worker thread); on wasmi and wasmtime, their ordinary instance.
        #[derive(Debug)]
        pub enum AnyLocalInstance {
            $(
                #[doc = concat!(stringify!($name), ".")]
                #[cfg(feature = $feature)]
                $variant(<$krate::$linked as LinkedModule>::LocalInstance),
            )*
        }

        $(
            #[cfg(feature = $feature)]
            impl From<$krate::$engine> for AnyEngine {
                fn from(engine: $krate::$engine) -> Self {
                    Self::$variant(engine)
                }
            }

            #[cfg(feature = $feature)]
            impl From<$krate::$module> for AnyModule {
                fn from(module: $krate::$module) -> Self {
                    Self::$variant(module)
                }
            }

            #[cfg(feature = $feature)]
            impl From<$krate::$linked> for AnyLinkedModule {
                fn from(linked: $krate::$linked) -> Self {
                    Self::$variant(linked)
                }
            }

            #[cfg(feature = $feature)]
            impl From<$krate::$instance> for AnyInstance {
                fn from(instance: $krate::$instance) -> Self {
                    Self::$variant(instance)
                }
            }
        )*

        impl AnyEngine {
            /// The engine of `kind` built for `config` (fuel metering, ...),
            /// or [`ErrorKind::Unsupported`] if this build does not have it
            /// compiled in.
            pub fn with_config(kind: EngineKind, config: &EngineConfig) -> Result<Self> {
                match kind {
                    $(
                        #[cfg(feature = $feature)]
                        EngineKind::$variant => Ok($krate::$engine::with_config(config)?.into()),
                    )*
                    #[allow(unreachable_patterns)]
                    other => Err(Error::new(
                        ErrorKind::Unsupported,
                        format!(
                            "engine `{other}` is not compiled into this build \
                             (enable the cargo feature `{other}`)"
                        ),
                    )),
                }
            }

            /// Which engine this is.
            pub fn kind(&self) -> EngineKind {
                match *self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(_) => EngineKind::$variant,
                    )*
                }
            }
        }

        impl Engine for AnyEngine {
            type Module = AnyModule;

            fn name(&self) -> &'static str {
                self.kind().name()
            }

            fn compile(&self, wasm: &[u8]) -> Result<AnyModule> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(engine) => engine.compile(wasm).map(Into::into),
                    )*
                }
            }
        }

        impl Module for AnyModule {
            type Linked = AnyLinkedModule;

            fn imports(&self) -> Vec<Import> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(module) => module.imports(),
                    )*
                }
            }

            fn link(&self, host: &HostFunctions) -> Result<AnyLinkedModule> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(module) => module.link(host).map(Into::into),
                    )*
                }
            }
        }

        impl LinkedModule for AnyLinkedModule {
            type Instance = AnyInstance;
            type LocalInstance = AnyLocalInstance;

            fn instantiate(&self, config: &InstanceConfig) -> Result<AnyInstance> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(linked) => linked.instantiate(config).map(Into::into),
                    )*
                }
            }

            fn instantiate_local(&self, config: &InstanceConfig) -> Result<AnyLocalInstance> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(linked) => {
                            linked.instantiate_local(config).map(AnyLocalInstance::$variant)
                        }
                    )*
                }
            }
        }

        /// Binds the instance of whichever engine `$value` (an `$any`)
        /// holds to `$inner`.
        macro_rules! on_instance {
            ($any:ident, $value:expr, $inner:ident => $body:expr) => {
                match $value {
                    $(
                        #[cfg(feature = $feature)]
                        $any::$variant($inner) => $body,
                    )*
                }
            };
        }
    };
}

crate::for_each_engine!(define_any);

/// `Instance` for an `Any*` instance enum, by matching on the variant.
macro_rules! impl_any_instance {
    ($any:ident) => {
        impl Instance for $any {
            fn open_stream(&mut self, source: BoxedSource, options: StreamOptions) -> Result<i64> {
                on_instance!($any, self, i => i.open_stream(source, options))
            }
            fn open_output(&mut self, sink: BoxedSink, options: StreamOptions) -> Result<i64> {
                on_instance!($any, self, i => i.open_output(sink, options))
            }
            fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
                on_instance!($any, self, i => i.call(export, args))
            }
            fn close_streams(&mut self) {
                on_instance!($any, self, i => i.close_streams())
            }
            fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
                on_instance!($any, self, i => i.read_memory(addr, len))
            }
            fn memory_size(&self) -> u64 {
                on_instance!($any, self, i => Instance::memory_size(i))
            }
            fn stats(&self) -> StreamStats {
                on_instance!($any, self, i => i.stats())
            }
            fn instance_id(&self) -> i64 {
                on_instance!($any, self, i => i.instance_id())
            }
            fn take_state(&mut self, index: usize) -> Result<BoxedState> {
                on_instance!($any, self, i => i.take_state(index))
            }
            fn put_state(&mut self, index: usize, state: BoxedState) -> Result<()> {
                on_instance!($any, self, i => i.put_state(index, state))
            }
        }
    };
}

impl_any_instance!(AnyInstance);
impl_any_instance!(AnyLocalInstance);

/// Async calls on whichever engine's `Send` instance (feature `async`).
/// Local instances take none: wasmer's would block the executor's thread.
#[cfg(feature = "async")]
impl refill_core::AsyncInstance for AnyInstance {
    fn call_with_streams_async<'a>(
        &'a mut self,
        export: &'a str,
        streams: Vec<refill_core::AsyncStream>,
    ) -> refill_core::asynchronous::BoxFuture<'a, Result<i64>> {
        on_instance!(AnyInstance, self, i => i.call_with_streams_async(export, streams))
    }
}

impl AnyEngine {
    /// The engine of `kind` with the default [`EngineConfig`].
    pub fn new(kind: EngineKind) -> Result<Self> {
        Self::with_config(kind, &EngineConfig::default())
    }

    /// The engine called `name` (`wasmi`, `wasmtime`, `wasmer`);
    /// [`ErrorKind::Unsupported`] for a name refill does not know.
    pub fn by_name(name: &str) -> Result<Self> {
        let kind: EngineKind = name
            .parse()
            .map_err(|e| Error::new(ErrorKind::Unsupported, format!("{e}")).with_source(e))?;
        Self::new(kind)
    }

    /// Every compiled engine, in the order of [`EngineKind::ALL`].
    pub fn all_compiled() -> Vec<Self> {
        EngineKind::compiled()
            .filter_map(|k| Self::new(k).ok())
            .collect()
    }
}

impl Default for AnyEngine {
    /// The [`crate::DefaultEngine`].
    fn default() -> Self {
        crate::DefaultEngine::default().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_engine_is_either_built_or_a_typed_error() {
        for &kind in EngineKind::ALL {
            match AnyEngine::new(kind) {
                Ok(engine) => {
                    assert!(kind.is_compiled());
                    assert_eq!(engine.kind(), kind);
                    assert_eq!(engine.name(), kind.name());
                }
                Err(e) => {
                    assert!(!kind.is_compiled());
                    assert_eq!(e.kind(), ErrorKind::Unsupported);
                }
            }
        }
        assert_eq!(
            AnyEngine::all_compiled().len(),
            EngineKind::compiled().count()
        );
        assert_eq!(AnyEngine::default().kind(), EngineKind::default_kind());
    }

    /// A local instance and a `Send` one of the same linked module compute
    /// the same, on every compiled engine; only the latter crosses threads.
    #[test]
    fn local_and_send_instances_agree() -> Result<()> {
        use refill_core::{BytesSource, InstanceExt};
        fn assert_send<T: Send>(_: &T) {}
        for engine in AnyEngine::all_compiled() {
            let linked = engine
                .compile(refill_fixtures::DIGEST.wasm)?
                .link(&HostFunctions::new())?;
            let source = || alloc::boxed::Box::new(BytesSource::new(alloc::vec![9u8; 100_000]));
            let mut local = linked.instantiate_local(&InstanceConfig::new())?;
            let mut sendable = linked.instantiate(&InstanceConfig::new())?;
            assert_send(&sendable);
            let by_local = local.call_with_streams("digest", [source() as _])?;
            let by_handle = sendable.call_with_streams("digest", [source() as _])?;
            assert_eq!(by_local, by_handle, "{}", engine.name());
            assert_eq!(local.stats(), sendable.stats(), "{}", engine.name());
        }
        Ok(())
    }

    #[test]
    fn by_name_rejects_unknown_names() {
        let e = AnyEngine::by_name("v8").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported);
        assert!(e.message().contains("`v8`"), "{e}");
    }
}
