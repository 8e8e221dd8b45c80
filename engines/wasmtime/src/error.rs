//! wasmtime's errors as refill-core errors, and refill's errors as wasmtime traps.

use core::fmt;

use refill_core::{Error, ErrorKind};

/// A refill error raised inside `__frnt__fill_buffer`, carried through the
/// guest's trap back to the embedder with its kind intact.
#[derive(Debug)]
pub(crate) struct RefillTrap(pub(crate) Error);

impl fmt::Display for RefillTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// `wasmtime::Error::new` takes any `Error + Send + Sync + 'static`: this is
// wasmtime's counterpart of wasmi's `HostError`.
impl core::error::Error for RefillTrap {}

/// The refill error behind a failed call: the one the import raised, or the
/// guest's own trap.
pub(crate) fn from_call(error: wasmtime::Error) -> Error {
    // `downcast` searches the whole chain, so the backtrace context wasmtime
    // wraps around a host error does not hide it.
    match error.downcast::<RefillTrap>() {
        Ok(RefillTrap(inner)) => inner,
        Err(error) => Error::trap("guest call failed").with_source(error),
    }
}

/// `kind` with wasmtime's error as source.
pub(crate) fn engine_error(kind: ErrorKind, message: &str, error: wasmtime::Error) -> Error {
    Error::new(kind, message).with_source(error)
}
