#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod engine;
mod error;
mod import;
mod instance;
mod limits;
mod memory;
mod state;
mod tunables;

pub use engine::{WasmerEngine, WasmerLinkedModule, WasmerModule};
pub use instance::WasmerInstance;
pub use wasmer;
