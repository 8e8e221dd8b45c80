//! The guest side of the streaming refill ABI (feature `guest`): the buffer
//! allocation behind `__frnt__initiate_buffer`, the instance id behind
//! `__frnt_set_id`, a [`StreamReader`] over one argument, and a
//! [`StreamWriter`] of one output stream.
//!
//! Built for `wasm32`, this module also defines the two exports and declares
//! the `__frnt__fill_buffer` import, so a contract only needs
//! `StreamReader::from_arg` (wasm32 only). On other targets the reader works over any
//! [`Refill`], which is how it is tested natively.

#![allow(unsafe_code)]

mod buffer;
mod reader;
#[cfg(target_arch = "wasm32")]
mod wasm;
mod writer;

pub use buffer::{allocate_buffer, free_buffer, one_shot_bytes};
pub use reader::{Refill, StreamError, StreamReader};
#[cfg(target_arch = "wasm32")]
pub use wasm::{HostDrain, HostRefill, instance_id};
pub use writer::{Drain, StreamWriter};
