#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(not(any(feature = "wasmi", feature = "wasmtime", feature = "wasmer")))]
compile_error!(
    "refill needs at least one engine: enable the feature `wasmi` (default), `wasmtime`, `wasmer` or `all-engines`"
);

mod table;

// The embedders' guide to host functions, its example run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../../docs/host-functions.md")]
struct HostFunctionsGuide;

mod any;
mod artifact;
#[cfg(feature = "std")]
pub mod cache;
mod kind;

pub use any::{AnyEngine, AnyInstance, AnyLinkedModule, AnyLocalInstance, AnyModule};
pub use kind::{EngineKind, UnknownEngine};
pub use refill_core::{
    self as core, ArtifactKey, Artifacts, BoxedSink, BoxedSource, BytesSource, Caller, Engine,
    EngineConfig, Error, ErrorKind, FuncType, HostFunc, HostFunctions, Import, ImportType,
    Instance, InstanceConfig, InstanceExt, Limits, LinkedModule, Module, Placement, Pooling,
    PullSource, Result, StateSlot, StreamOptions, StreamSink, StreamSource, StreamStats, Val,
    ValType, abi,
};
/// Async calls (feature `async`): see [`refill_core::asynchronous`].
#[cfg(feature = "async")]
pub use refill_core::{AsyncInstance, AsyncSink, AsyncSource, AsyncStream, asynchronous};
#[cfg(feature = "std")]
pub use refill_core::{ReadAheadSource, ReaderSource};
#[cfg(feature = "std")]
pub use refill_core::{VecSink, WriterSink};

/// Hosting freenet contracts and delegates: their entry points, result
/// records and host imports (feature `std`).
#[cfg(feature = "std")]
pub use refill_freenet as freenet;
#[cfg(feature = "wasmer")]
pub use refill_wasmer as wasmer;
#[cfg(feature = "wasmi")]
pub use refill_wasmi as wasmi;
#[cfg(feature = "wasmtime")]
pub use refill_wasmtime as wasmtime;

// The order in which the default is picked, not the list of engines (that
// is `for_each_engine!`): the most capable engine the build asked for.
cfg_if::cfg_if! {
    if #[cfg(feature = "wasmtime")] {
        /// The engine refill uses when none is named: the first compiled in
        /// the order wasmtime, wasmer, wasmi.
        pub type DefaultEngine = refill_wasmtime::WasmtimeEngine;
    } else if #[cfg(feature = "wasmer")] {
        /// The engine refill uses when none is named: the first compiled in
        /// the order wasmtime, wasmer, wasmi.
        pub type DefaultEngine = refill_wasmer::WasmerEngine;
    } else {
        /// The engine refill uses when none is named: the first compiled in
        /// the order wasmtime, wasmer, wasmi.
        pub type DefaultEngine = refill_wasmi::WasmiEngine;
    }
}

/// Boxes a source for [`Instance::open_stream`] and friends.
pub trait IntoBoxedSource {
    /// The source, boxed.
    fn boxed(self) -> BoxedSource;
}

impl<S: StreamSource + Send + 'static> IntoBoxedSource for S {
    fn boxed(self) -> BoxedSource {
        alloc::boxed::Box::new(self)
    }
}

/// Boxes a sink for [`Instance::open_output`].
pub trait IntoBoxedSink {
    /// The sink, boxed.
    fn boxed_sink(self) -> BoxedSink;
}

impl<S: StreamSink + Send + 'static> IntoBoxedSink for S {
    fn boxed_sink(self) -> BoxedSink {
        alloc::boxed::Box::new(self)
    }
}
