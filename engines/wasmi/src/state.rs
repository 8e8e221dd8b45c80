//! What one instance's store holds, how a guest call runs within its
//! limits (fuel and deadline), and which limit a failed call ran into.
//!
//! wasmi has no epochs: a deadline is kept with fuel slices. The call runs
//! resumably with a slice of fuel; each time the slice runs out the clock
//! is read and the call is either resumed with the next slice or stopped
//! with `DeadlineExceeded`. A fuel budget (`Limits::fuel`) is drawn from in
//! the same slices. The slack is one slice: about
//! [`FUEL_SLICE`] instructions, a few milliseconds of interpretation.

use alloc::format;

use refill_core::limits::count_exceeded;
use refill_core::{Error, ErrorKind, HostData, Result};
use wasmi::errors::{ErrorKind as WasmiErrorKind, InstantiationError};
#[cfg(feature = "std")]
use wasmi::{AsContextMut, ResumableCall};
use wasmi::{Func, Memory, Store, TrapCode, Val};

use crate::error::{engine_error, from_call, instantiation_error};
use crate::memory::GuestLimiter;

/// Fuel per slice of a call with a deadline: the clock is read this often.
/// About 3 to 30 ms of interpretation, depending on the instructions.
#[cfg(feature = "std")]
pub(crate) const FUEL_SLICE: u64 = 10_000_000;

/// The fuel a start function gets per second of deadline. wasmi runs a
/// module's start function inside instantiation, where a call cannot be
/// resumed, so a deadline bounds it through fuel alone: this is above the
/// interpreter's top speed, so the start function is never stopped early,
/// and stops within a few times its deadline at worst.
#[cfg(feature = "std")]
const START_FUEL_PER_SECOND: u64 = 2_000_000_000;

/// What bounds each guest call of one instance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallLimits {
    /// The budget of each call (`Limits::fuel`), if any.
    pub(crate) budget: Option<u64>,
    /// Whether the engine meters fuel (for a budget or for deadline slices).
    pub(crate) metered: bool,
    /// The wall-clock deadline of each call, if any.
    #[cfg(feature = "std")]
    pub(crate) deadline: Option<core::time::Duration>,
}

/// One instance's store data: refill-core's host data (streams, id,
/// host-function states), its own memory handle and the state of its limits.
#[derive(Debug)]
pub(crate) struct StoreData {
    pub(crate) host: HostData,
    /// Set right after instantiation; a host function called before (from
    /// a start function) has no memory to work with.
    pub(crate) memory: Option<Memory>,
    /// Enforces the memory and table limits (installed with `Store::limiter`).
    pub(crate) limiter: GuestLimiter,
    /// What bounds each call.
    pub(crate) limits: CallLimits,
    /// Whether the fuel the store holds stands for the deadline (a start
    /// function's), so that running out of it is `DeadlineExceeded`.
    pub(crate) fuel_is_deadline: bool,
}

impl StoreData {
    /// The refill error behind a failed guest call, its limits read from
    /// this store.
    pub(crate) fn call_error(&mut self, error: wasmi::Error) -> Error {
        from_call(error, |error| self.limit_exceeded(error))
    }

    /// The refill error behind a failed instantiation, its limits read from
    /// this store.
    pub(crate) fn instantiation_error(&mut self, error: wasmi::Error) -> Error {
        instantiation_error(error, |error| self.limit_exceeded(error))
    }

    /// The limit behind `error`, if it is one: fuel, the stack, a memory or
    /// table request the limiter refused since the call began, or too many
    /// memories, tables or instances.
    fn limit_exceeded(&mut self, error: &wasmi::Error) -> Option<Error> {
        let trap = error.as_trap_code();
        if trap == Some(TrapCode::OutOfFuel) {
            return Some(self.out_of_fuel());
        }
        if trap == Some(TrapCode::StackOverflow) {
            return Some(Error::new(
                ErrorKind::StackExhausted,
                "the guest's call stack outgrew the engine's limit (endless or too deep recursion)",
            ));
        }
        // The limiter refuses with an error, and records what it refused: a
        // trapped `memory.grow`/`table.grow`, or a memory or table that could
        // not be created.
        if let Some(denied) = self.limiter.take_denied() {
            return Some(denied);
        }
        let (memories, tables, instances) = self.limiter.counts();
        let max = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        match error.kind() {
            WasmiErrorKind::Instantiation(InstantiationError::TooManyMemories) => {
                Some(count_exceeded("memories", None, max(memories)))
            }
            WasmiErrorKind::Instantiation(InstantiationError::TooManyTables) => {
                Some(count_exceeded("tables", None, max(tables)))
            }
            WasmiErrorKind::Instantiation(InstantiationError::TooManyInstances) => {
                Some(count_exceeded("instances", None, max(instances)))
            }
            _ => None,
        }
    }

    pub(crate) fn out_of_fuel(&self) -> Error {
        if self.fuel_is_deadline {
            return Error::new(
                ErrorKind::DeadlineExceeded,
                "the module's start function ran past the deadline (on wasmi, as fuel)",
            );
        }
        let message = match self.limits.budget {
            Some(fuel) => format!("the guest used up its budget of {fuel} fuel units"),
            None => alloc::string::String::from("the guest ran out of fuel"),
        };
        Error::new(ErrorKind::CpuBudgetExhausted, message)
    }
}

/// Sets the store's fuel (on a metering engine).
fn set_fuel(store: &mut Store<StoreData>, fuel: u64) -> Result<()> {
    store
        .set_fuel(fuel)
        .map_err(|e| engine_error(ErrorKind::Engine, "wasmi cannot set the fuel", e))
}

/// Gets the store ready for a module's instantiation, which runs its start
/// function: no refusal left from before, and the fuel of the start
/// function (its budget, bounded by its deadline as fuel: see
/// [`START_FUEL_PER_SECOND`]).
pub(crate) fn prepare_start(store: &mut Store<StoreData>) -> Result<()> {
    store.data_mut().limiter.clear_denied();
    let limits = store.data().limits;
    if !limits.metered {
        return Ok(());
    }
    #[cfg(feature = "std")]
    let by_deadline = limits.deadline.map(|d| {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        (nanos / 1_000).saturating_mul(START_FUEL_PER_SECOND / 1_000_000)
    });
    #[cfg(not(feature = "std"))]
    let by_deadline: Option<u64> = None;
    let (fuel, is_deadline) = match (limits.budget, by_deadline) {
        (Some(budget), Some(by_deadline)) => (budget.min(by_deadline), by_deadline < budget),
        (Some(budget), None) => (budget, false),
        (None, Some(by_deadline)) => (by_deadline, true),
        (None, None) => (u64::MAX, false),
    };
    store.data_mut().fuel_is_deadline = is_deadline;
    set_fuel(store, fuel)
}

/// Runs `func` with `inputs` to completion within the instance's limits,
/// writing its results to `outputs`: one fresh fuel budget per call (never
/// carried over), and the deadline kept with fuel slices (see the module
/// docs). A limit hit is its typed error; a host function's error comes
/// back as it was raised.
pub(crate) fn call(
    store: &mut Store<StoreData>,
    func: &Func,
    inputs: &[Val],
    outputs: &mut [Val],
) -> Result<()> {
    store.data_mut().limiter.clear_denied();
    store.data_mut().fuel_is_deadline = false;
    let limits = store.data().limits;
    if !limits.metered {
        return func
            .call(&mut *store, inputs, outputs)
            .map_err(|e| store.data_mut().call_error(e));
    }
    #[cfg(feature = "std")]
    if let Some(deadline) = limits.deadline {
        return call_in_slices(store, func, inputs, outputs, deadline);
    }
    set_fuel(store, limits.budget.unwrap_or(u64::MAX))?;
    func.call(&mut *store, inputs, outputs)
        .map_err(|e| store.data_mut().call_error(e))
}

/// [`call`] with a deadline: fuel in slices of [`FUEL_SLICE`], the clock
/// read between them.
#[cfg(feature = "std")]
fn call_in_slices(
    store: &mut Store<StoreData>,
    func: &Func,
    inputs: &[Val],
    outputs: &mut [Val],
    deadline: core::time::Duration,
) -> Result<()> {
    let mut slices = Slices::new(store, Some(deadline))?;
    let mut call = func
        .call_resumable(store.as_context_mut(), inputs, outputs)
        .map_err(|e| store.data_mut().call_error(e))?;
    loop {
        match call {
            ResumableCall::Finished => return Ok(()),
            ResumableCall::HostTrap(trap) => {
                return Err(store.data_mut().call_error(trap.into_host_error()));
            }
            ResumableCall::OutOfFuel(out) => {
                slices.next(store, out.required_fuel())?;
                call = out
                    .resume(store.as_context_mut(), outputs)
                    .map_err(|e| store.data_mut().call_error(e))?;
            }
        }
    }
}

/// A resumable call's fuel, handed out in slices: of [`FUEL_SLICE`] with
/// the clock read between them when there is a deadline, all the budget
/// at once when there is none.
#[cfg(feature = "std")]
pub(crate) struct Slices {
    started: std::time::Instant,
    deadline: Option<core::time::Duration>,
    /// What is left of the budget (all of it when there is none).
    left: u64,
}

#[cfg(feature = "std")]
impl Slices {
    /// Starts a call with `deadline` on `store`: its first slice set.
    fn new(store: &mut Store<StoreData>, deadline: Option<core::time::Duration>) -> Result<Self> {
        let mut slices = Self {
            started: std::time::Instant::now(),
            deadline,
            left: store.data().limits.budget.unwrap_or(u64::MAX),
        };
        slices.next(store, 1)?;
        Ok(slices)
    }

    /// Starts a resumable call on `store` as [`call`] starts a call: the
    /// denied grow cleared, and on a metered engine the budget and the
    /// deadline in slices. `None` on an engine that meters no fuel.
    #[cfg(feature = "async")]
    pub(crate) fn start(store: &mut Store<StoreData>) -> Result<Option<Self>> {
        store.data_mut().limiter.clear_denied();
        store.data_mut().fuel_is_deadline = false;
        let limits = store.data().limits;
        if !limits.metered {
            return Ok(None);
        }
        Self::new(store, limits.deadline).map(Some)
    }

    /// Sets the next slice, of at least `required` fuel: past the deadline
    /// or the budget, the call's error instead.
    pub(crate) fn next(&mut self, store: &mut Store<StoreData>, required: u64) -> Result<()> {
        let slice = match self.deadline {
            Some(deadline) => {
                if self.started.elapsed() >= deadline {
                    return Err(deadline_exceeded(deadline));
                }
                FUEL_SLICE.max(required).min(self.left)
            }
            None => self.left,
        };
        if slice < required.max(1) {
            return Err(store.data().out_of_fuel());
        }
        self.left -= slice;
        set_fuel(store, slice)
    }
}

/// The error for a call stopped at its deadline.
#[cfg(feature = "std")]
fn deadline_exceeded(deadline: core::time::Duration) -> Error {
    Error::new(
        ErrorKind::DeadlineExceeded,
        format!("the guest call ran past its deadline of {deadline:?} and was stopped"),
    )
}
