#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod artifact;
#[cfg(feature = "async")]
mod asynchronous;
mod engine;
mod error;
mod import;
mod instance;
mod limits;
mod memory;
mod pool;
mod state;
mod unchecked;

pub use engine::{WasmerEngine, WasmerLinkedModule, WasmerModule};
pub use instance::WasmerLocalInstance;
pub use pool::WasmerInstance;
pub use wasmer;
