//! wasmi's errors as refill-core errors, and refill's errors as wasmi traps.

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

impl wasmi::errors::HostError for RefillTrap {}

/// The refill error behind a failed call: the one the import raised, or the
/// guest's own trap.
pub(crate) fn from_call(error: wasmi::Error) -> Error {
    if error.downcast_ref::<RefillTrap>().is_none() {
        return Error::trap("guest call failed").with_source(error);
    }
    match error.downcast::<RefillTrap>() {
        Some(RefillTrap(inner)) => inner,
        None => Error::new(ErrorKind::Engine, "a refill trap could not be recovered"),
    }
}

/// `kind` with wasmi's error as source.
pub(crate) fn engine_error(kind: ErrorKind, message: &str, error: wasmi::Error) -> Error {
    Error::new(kind, message).with_source(error)
}
