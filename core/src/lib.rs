#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod abi;
pub mod descriptor;
pub mod engine;
pub mod error;
#[cfg(feature = "guest")]
pub mod guest;
pub mod limits;
pub mod memory;
pub mod source;
pub mod stream;

pub use descriptor::BufferDescriptor;
pub use engine::{Bindings, Engine, Instance, InstanceConfig, Module};
pub use error::{Error, ErrorKind, Result};
pub use limits::{EngineConfig, Limits};
pub use memory::{GuestMemory, GuestRange, VecMemory};
#[cfg(feature = "std")]
pub use source::ReaderSource;
pub use source::{BytesSource, StreamSource};
pub use stream::{BoxedSource, HostStreams, StreamStats};
