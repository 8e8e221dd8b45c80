#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod artifact;
mod engine;
mod error;
mod import;
mod instance;
mod memory;
mod state;
mod unchecked;

pub use engine::{WasmtimeEngine, WasmtimeLinkedModule, WasmtimeModule};
pub use instance::WasmtimeInstance;
pub use wasmtime;
