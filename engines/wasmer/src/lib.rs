#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod engine;
mod error;
mod import;
mod instance;
mod limits;
mod memory;

pub use engine::{WasmerEngine, WasmerModule};
pub use instance::WasmerInstance;
pub use wasmer;
