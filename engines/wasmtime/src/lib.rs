#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![deny(unsafe_code)]

// First: its `sync_or_now!` is used by the modules after it.
#[macro_use]
mod state;

mod artifact;
#[cfg(feature = "async")]
mod asynchronous;
mod engine;
mod error;
mod import;
mod instance;
mod memory;
mod unchecked;

pub use engine::{WasmtimeEngine, WasmtimeLinkedModule, WasmtimeModule};
pub use instance::WasmtimeInstance;
pub use wasmtime;
