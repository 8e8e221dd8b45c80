//! wasmer's errors as refill-core errors, and refill's errors as wasmer traps.
//! The leaf of the crate: it uses nothing else of it.

use core::fmt;

use refill_core::{Error, ErrorKind};
use wasmer::RuntimeError;

/// A refill error raised inside a host function, carried through the
/// guest's trap back to the embedder with its kind intact.
#[derive(Debug)]
pub(crate) struct RefillTrap(pub(crate) Error);

impl fmt::Display for RefillTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

// `RuntimeError::user` takes any boxed `Error + Send + Sync`: this is wasmer's
// counterpart of wasmi's `HostError`.
impl core::error::Error for RefillTrap {}

/// A refill error as the wasmer error that traps the guest.
pub(crate) fn trap(error: Error) -> RuntimeError {
    RuntimeError::user(Box::new(RefillTrap(error)))
}

/// The refill error behind a failed call: the one a host function raised,
/// or the guest's own trap.
pub(crate) fn from_call(error: RuntimeError) -> Error {
    if !error.is::<RefillTrap>() {
        return Error::trap("guest call failed").with_source(error);
    }
    // `downcast` moves the payload out only when no clone of the error is
    // alive (it is shared behind an `Arc`); otherwise rebuild it from a
    // reference, keeping its kind and message.
    match error.downcast::<RefillTrap>() {
        Ok(RefillTrap(inner)) => inner,
        Err(error) => match error.downcast_ref::<RefillTrap>() {
            Some(RefillTrap(inner)) => Error::new(inner.kind(), inner.message()).with_source(error),
            None => Error::new(ErrorKind::Engine, "a refill trap could not be recovered"),
        },
    }
}

/// `kind` with wasmer's error as source (wasmer has one error type per
/// operation: compiling, instantiating, calling).
pub(crate) fn engine_error(
    kind: ErrorKind,
    message: &str,
    error: impl core::error::Error + Send + Sync + 'static,
) -> Error {
    Error::new(kind, message).with_source(error)
}
