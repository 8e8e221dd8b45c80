//! wasmtime's errors as refill-core errors, and refill's errors as wasmtime
//! traps. The leaf of the crate: it uses nothing else of it.

use core::fmt;

use refill_core::{Error, ErrorKind};
use wasmtime::Trap;

/// A refill error raised inside a host function or by the memory limiter,
/// carried through the guest's trap back to the embedder with its kind
/// intact.
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

/// A refill error as the wasmtime error that traps the guest.
pub(crate) fn trap(error: Error) -> wasmtime::Error {
    wasmtime::Error::new(RefillTrap(error))
}

/// The refill error behind a failed call: the one a host function or the
/// memory limiter raised, the exhausted fuel, or the guest's own trap.
pub(crate) fn from_call(error: wasmtime::Error) -> Error {
    // `downcast` searches the whole chain, so the backtrace context wasmtime
    // wraps around a host error does not hide it.
    match error.downcast::<RefillTrap>() {
        Ok(RefillTrap(inner)) => inner,
        Err(error) => engine_limit(error)
            .unwrap_or_else(|error| Error::trap("guest call failed").with_source(error)),
    }
}

/// The limit wasmtime itself stopped the guest at (fuel, the stack), or
/// the error as it was.
fn engine_limit(error: wasmtime::Error) -> Result<Error, wasmtime::Error> {
    match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => Ok(out_of_fuel(error)),
        Some(Trap::StackOverflow) => Ok(engine_error(
            ErrorKind::StackExhausted,
            "the guest's call stack outgrew the engine's limit (endless or too deep recursion)",
            error,
        )),
        _ => Err(error),
    }
}

/// The refill error behind a failed instantiation: a limit that was hit
/// (initial memory past `max_memory_bytes`, the start function out of fuel
/// or growing past the limit) keeps its kind; anything else is
/// `Instantiation`, with wasmtime's error as source.
pub(crate) fn from_instantiation(error: wasmtime::Error) -> Error {
    const MESSAGE: &str = "wasmtime cannot instantiate the module";
    match error.downcast::<RefillTrap>() {
        Ok(RefillTrap(inner)) if is_limit(inner.kind()) => inner,
        // A host function failed during the start function.
        Ok(RefillTrap(inner)) => Error::new(ErrorKind::Instantiation, MESSAGE).with_source(inner),
        Err(error)
            if error
                .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
                .is_some() =>
        {
            engine_error(
                ErrorKind::InstanceLimitExceeded,
                "every slot of the engine's instance pool is taken (EngineConfig::pooling)",
                error,
            )
        }
        Err(error) => engine_limit(error)
            .unwrap_or_else(|error| engine_error(ErrorKind::Instantiation, MESSAGE, error)),
    }
}

/// Whether `kind` is a limit the instance ran into (kept as it is when it
/// fails an instantiation).
fn is_limit(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::MemoryLimitExceeded
            | ErrorKind::TableLimitExceeded
            | ErrorKind::InstanceLimitExceeded
            | ErrorKind::DeadlineExceeded
            | ErrorKind::CpuBudgetExhausted
            | ErrorKind::StackExhausted
    )
}

fn out_of_fuel(error: wasmtime::Error) -> Error {
    engine_error(
        ErrorKind::CpuBudgetExhausted,
        "the guest used up the fuel of the call",
        error,
    )
}

/// `kind` with wasmtime's error as source.
pub(crate) fn engine_error(kind: ErrorKind, message: &str, error: wasmtime::Error) -> Error {
    Error::new(kind, message).with_source(error)
}
