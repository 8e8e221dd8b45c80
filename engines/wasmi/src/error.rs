//! wasmi's errors as refill-core errors, and refill's errors as wasmi traps.
//! The leaf of the crate: it uses nothing else of it. What only the store
//! knows (the fuel budget, the memory request the limiter refused) comes in
//! as the `limit` argument, from `StoreData::limit_exceeded`.

use core::fmt;

use refill_core::{Error, ErrorKind};

/// A refill error raised inside a host function, carried through the
/// guest's trap back to the embedder with its kind intact.
#[derive(Debug)]
pub(crate) struct RefillTrap(pub(crate) Error);

impl fmt::Display for RefillTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for RefillTrap {}

/// A refill error as the wasmi error that traps the guest.
pub(crate) fn trap(error: Error) -> wasmi::Error {
    wasmi::Error::host(RefillTrap(error))
}

/// The refill error behind a failed call: the one a host function raised, a
/// limit the guest ran into (`limit`, asked only when no host function
/// failed), or the guest's own trap.
pub(crate) fn from_call(
    error: wasmi::Error,
    limit: impl FnOnce(&wasmi::Error) -> Option<Error>,
) -> Error {
    match refill_trap(error) {
        Ok(inner) => inner,
        Err(error) => match limit(&error) {
            Some(limit) => limit.with_source(error),
            None => Error::trap("guest call failed").with_source(error),
        },
    }
}

/// The refill error behind a failed instantiation: a limit (an initial
/// memory past the limit, a start function out of fuel or growing past it)
/// keeps its kind; anything else, a host function failing in the start
/// function included, is `Instantiation`, with the cause as source.
pub(crate) fn instantiation_error(
    error: wasmi::Error,
    limit: impl FnOnce(&wasmi::Error) -> Option<Error>,
) -> Error {
    const MESSAGE: &str = "wasmi cannot instantiate the module";
    match refill_trap(error) {
        Ok(inner) => Error::new(ErrorKind::Instantiation, MESSAGE).with_source(inner),
        Err(error) => match limit(&error) {
            Some(limit) => limit.with_source(error),
            None => engine_error(ErrorKind::Instantiation, MESSAGE, error),
        },
    }
}

/// The refill error a host function trapped the guest with, or `error` as
/// it was.
fn refill_trap(error: wasmi::Error) -> Result<Error, wasmi::Error> {
    // `downcast` consumes the error even when it fails: look first.
    if error.downcast_ref::<RefillTrap>().is_none() {
        return Err(error);
    }
    Ok(match error.downcast::<RefillTrap>() {
        Some(RefillTrap(inner)) => inner,
        None => Error::new(ErrorKind::Engine, "a refill trap could not be recovered"),
    })
}

/// `kind` with wasmi's error as source.
pub(crate) fn engine_error(kind: ErrorKind, message: &str, error: wasmi::Error) -> Error {
    Error::new(kind, message).with_source(error)
}
