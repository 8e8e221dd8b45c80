#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod artifact;
#[cfg(feature = "async")]
mod asynchronous;
mod engine;
mod error;
mod import;
mod instance;
mod memory;
mod state;

pub use engine::{WasmiEngine, WasmiLinkedModule, WasmiModule};
pub use instance::WasmiInstance;
pub use wasmi;
