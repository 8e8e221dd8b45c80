#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
pub mod artifact;
#[cfg(feature = "async")]
pub mod asynchronous;
pub mod config;
pub mod descriptor;
pub mod engine;
pub mod error;
#[cfg(feature = "guest")]
pub mod guest;
#[cfg(feature = "std")]
pub mod handover;
pub mod host;
pub mod instance;
pub mod limits;
pub mod memory;
#[cfg(feature = "std")]
pub mod read_ahead;
pub mod sink;
pub mod source;
pub mod stream;
pub mod value;

pub use artifact::{ArtifactKey, Artifacts, VerifiedArtifact};
#[cfg(feature = "async")]
pub use asynchronous::{AsyncBindings, AsyncInstance, AsyncSink, AsyncSource, AsyncStream};
pub use config::{EngineConfig, InstanceConfig, Pooling};
pub use descriptor::BufferDescriptor;
pub use engine::{Engine, LinkedModule, Module};
pub use error::{Error, ErrorKind, Result};
pub use host::{Caller, HostData, HostFunc, HostFunctions, Import, ImportType, Linkage, StateSlot};
pub use instance::{Bindings, Instance, InstanceExt};
pub use limits::Limits;
pub use memory::{GuestMemory, GuestRange, VecMemory};
#[cfg(feature = "std")]
pub use read_ahead::ReadAheadSource;
pub use sink::{BoxedSink, StreamSink};
#[cfg(feature = "std")]
pub use sink::{VecSink, WriterSink};
#[cfg(feature = "std")]
pub use source::ReaderSource;
pub use source::{BytesSource, PullSource, StreamSource};
pub use stream::{BoxedSource, HostStreams, Placement, StreamOptions, StreamPlan, StreamStats};
pub use value::{FuncType, Val, ValType, WasmResults, WasmValue};
