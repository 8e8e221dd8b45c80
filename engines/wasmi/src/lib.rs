#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod engine;
mod error;
mod import;
mod instance;
mod memory;
mod state;

pub use engine::{WasmiEngine, WasmiLinkedModule, WasmiModule};
pub use instance::WasmiInstance;
pub use wasmi;
