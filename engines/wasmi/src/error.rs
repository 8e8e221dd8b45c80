//! wasmi's errors as refill-core errors, and refill's errors as wasmi traps.

use core::fmt;

use refill_core::{Error, ErrorKind};
use wasmi::TrapCode;

use crate::engine::HostState;

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

/// The refill error behind a failed call: the one the import raised, a
/// limit the guest ran into (fuel, memory), or the guest's own trap.
/// `state` is the calling instance's, read for the limits.
pub(crate) fn from_call(error: wasmi::Error, state: &mut HostState) -> Error {
    if error.downcast_ref::<RefillTrap>().is_some() {
        return match error.downcast::<RefillTrap>() {
            Some(RefillTrap(inner)) => inner,
            None => Error::new(ErrorKind::Engine, "a refill trap could not be recovered"),
        };
    }
    match limit_exceeded(&error, state) {
        Some(limit) => limit.with_source(error),
        None => Error::trap("guest call failed").with_source(error),
    }
}

/// The refill error behind a failed instantiation: a limit (an initial
/// memory past the limit, a start function out of fuel) or `Instantiation`.
pub(crate) fn instantiation_error(error: wasmi::Error, state: &mut HostState) -> Error {
    match limit_exceeded(&error, state) {
        Some(limit) => limit.with_source(error),
        None => engine_error(
            ErrorKind::Instantiation,
            "wasmi cannot instantiate the module",
            error,
        ),
    }
}

/// The limit behind `error`, if it is one: running out of fuel, or a memory
/// request the instance's limiter refused.
fn limit_exceeded(error: &wasmi::Error, state: &mut HostState) -> Option<Error> {
    let trap = error.as_trap_code();
    if trap == Some(TrapCode::OutOfFuel) {
        let message = match state.fuel {
            Some(fuel) => format!("the guest used up its budget of {fuel} fuel units"),
            None => "the guest ran out of fuel".to_owned(),
        };
        return Some(Error::new(ErrorKind::CpuBudgetExhausted, message));
    }
    // The limiter refuses with an error, and records what it refused: a
    // trapped `memory.grow` or a memory that could not be created.
    if let Some(denied) = state.limiter.take_denied() {
        return Some(denied);
    }
    (trap == Some(TrapCode::GrowthOperationLimited)).then(|| state.limiter.exceeded())
}

/// `kind` with wasmi's error as source.
pub(crate) fn engine_error(kind: ErrorKind, message: &str, error: wasmi::Error) -> Error {
    Error::new(kind, message).with_source(error)
}
