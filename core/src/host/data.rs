//! The host side of one instance: its streams and the state its host
//! functions keep for it.

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use core::any::{Any, TypeId, type_name};
use core::fmt;
use core::marker::PhantomData;

use super::HostFunctions;
use crate::config::InstanceConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::stream::HostStreams;

/// One piece of per-instance state, as the host keeps it.
pub type BoxedState = Box<dyn Any + Send>;

/// A state slot of one instance: the value, unless the embedder has taken
/// it out, and its type, so that only a value of that type goes back in.
struct StateCell {
    type_id: TypeId,
    value: Option<BoxedState>,
}

/// A typed handle to one piece of per-instance state, returned by
/// [`HostFunctions::state`]. Each instance of a module linked with those
/// host functions starts with a fresh value; host functions reach it with
/// [`crate::Caller::state`], the embedder between calls with
/// [`crate::InstanceExt::with_state`].
pub struct StateSlot<T> {
    index: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> StateSlot<T> {
    pub(crate) fn new(index: usize) -> Self {
        Self {
            index,
            _type: PhantomData,
        }
    }

    /// The slot's position among the instance's states.
    pub fn index(&self) -> usize {
        self.index
    }
}

// By hand: derives would ask `T` to be `Clone`/`Copy`/`Debug` too.
impl<T> Clone for StateSlot<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for StateSlot<T> {}

impl<T> fmt::Debug for StateSlot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateSlot<{}>({})", type_name::<T>(), self.index)
    }
}

/// What the host keeps for one instance: its streams (and with them its
/// id and counters) and the states of its host functions. Each engine puts
/// one in the instance's store, so a host function only ever sees the data
/// of the instance that called it.
pub struct HostData {
    streams: HostStreams,
    states: Vec<StateCell>,
    /// Set while a guest call runs; still set afterwards only if the call
    /// never returned (a panic unwound through it): the instance is then
    /// poisoned.
    in_call: bool,
    /// Set when a host function panicked (and the panic was caught at its
    /// boundary): the instance is poisoned as well.
    poisoned: bool,
    /// The stages of the async streams of the call in progress, by
    /// descriptor address.
    #[cfg(feature = "async")]
    stages: Vec<(i64, crate::asynchronous::Stage)>,
    /// Whether the module was linked for async calls.
    #[cfg(feature = "async")]
    is_async: bool,
}

impl fmt::Debug for HostData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostData")
            .field("streams", &self.streams)
            .field("states", &self.states.len())
            .finish()
    }
}

impl HostData {
    /// The host data of a new instance set up by `config` (a fresh id
    /// unless it fixes one), with a fresh state for each of `host`'s slots.
    pub fn new(config: &InstanceConfig, host: &HostFunctions) -> Result<Self> {
        Ok(Self {
            streams: HostStreams::new(config)?,
            states: host
                .new_states()
                .map(|value| StateCell {
                    type_id: (*value).type_id(),
                    value: Some(value),
                })
                .collect(),
            in_call: false,
            poisoned: false,
            #[cfg(feature = "async")]
            stages: Vec::new(),
            #[cfg(feature = "async")]
            is_async: host.is_async(),
        })
    }

    /// Marks the start of a guest call; refuses with
    /// [`ErrorKind::Poisoned`] if an earlier call never ended (a host
    /// function or a source panicked through it), since the guest and the
    /// host state may then be half-way through anything.
    pub fn enter_call(&mut self) -> Result<()> {
        if self.in_call || self.poisoned {
            return Err(Error::new(
                ErrorKind::Poisoned,
                "an earlier call on this instance panicked (in a host function or a stream \
                 source); the instance refuses every call since: make a new one",
            ));
        }
        self.in_call = true;
        Ok(())
    }

    /// Marks the end of a guest call that returned (with a result or an
    /// error).
    pub fn leave_call(&mut self) {
        self.in_call = false;
    }

    /// Whether an earlier call panicked and the instance refuses calls.
    pub fn is_poisoned(&self) -> bool {
        self.in_call || self.poisoned
    }

    /// Poisons the instance: every later call is refused with
    /// [`ErrorKind::Poisoned`]. Called when a host function panicked.
    pub fn poison(&mut self) {
        self.poisoned = true;
    }

    /// The instance's streams.
    pub fn streams(&self) -> &HostStreams {
        &self.streams
    }

    /// The instance's streams, mutably.
    pub fn streams_mut(&mut self) -> &mut HostStreams {
        &mut self.streams
    }

    /// Releases every open stream ([`HostStreams::release_all`]) and, in an
    /// async call, their stages.
    pub fn release_streams(&mut self) {
        self.streams.release_all();
        #[cfg(feature = "async")]
        self.stages.clear();
    }

    /// Refuses an async call unless the module was linked for them
    /// ([`HostFunctions::enable_async`]).
    #[cfg(feature = "async")]
    pub(crate) fn check_async(&self) -> Result<()> {
        if self.is_async {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Unsupported,
            "async call on a module linked without HostFunctions::enable_async",
        ))
    }

    /// Registers the stage of the async stream opened at `descriptor`.
    #[cfg(feature = "async")]
    pub(crate) fn stage(&mut self, descriptor: i64, stage: crate::asynchronous::Stage) {
        self.stages.push((descriptor, stage));
    }

    /// What to await before a stream import on the buffer at `buf_ptr` can
    /// run without waiting: the wait of its async stream's stage, if it has
    /// one and lacks something. The address only picks a stage; the import
    /// then checks the buffer as ever.
    #[cfg(feature = "async")]
    pub fn wait_before(&self, buf_ptr: i64) -> Option<crate::asynchronous::Wait> {
        self.stages
            .iter()
            .find(|(descriptor, _)| *descriptor == buf_ptr)
            .and_then(|(_, stage)| stage.wait())
    }

    /// The stages of the call's async outputs.
    #[cfg(feature = "async")]
    pub(crate) fn output_stages(&self) -> Vec<crate::asynchronous::Stage> {
        self.stages
            .iter()
            .filter(|(_, stage)| stage.is_output())
            .map(|(_, stage)| stage.clone())
            .collect()
    }

    /// The state in `slot`; [`ErrorKind::HostFunction`] if the slot belongs
    /// to another set of host functions or the embedder has taken it out
    /// ([`HostData::take_state`]).
    pub fn state_mut<T: 'static>(&mut self, slot: StateSlot<T>) -> Result<&mut T> {
        self.states
            .get_mut(slot.index)
            .and_then(|cell| cell.value.as_mut()?.downcast_mut::<T>())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::HostFunction,
                    format!(
                        "state slot {} of type {} is not this instance's, or is taken out",
                        slot.index,
                        type_name::<T>()
                    ),
                )
            })
    }

    /// Takes the state of slot `index` out, for the embedder to read or
    /// change between calls (the value can cross threads, which a borrow
    /// could not); [`HostData::put_state`] puts it back. While it is out,
    /// host functions that need it fail.
    pub fn take_state(&mut self, index: usize) -> Result<BoxedState> {
        self.states
            .get_mut(index)
            .and_then(|cell| cell.value.take())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::HostFunction,
                    format!("the instance has no state in slot {index}"),
                )
            })
    }

    /// Puts `state` into slot `index`, replacing what is there. A slot that
    /// does not exist, or a value of another type than the slot's, is
    /// refused with [`ErrorKind::HostFunction`] and changes nothing.
    pub fn put_state(&mut self, index: usize, state: BoxedState) -> Result<()> {
        match self.states.get_mut(index) {
            Some(cell) if cell.type_id == (*state).type_id() => {
                cell.value = Some(state);
                Ok(())
            }
            Some(_) => Err(Error::new(
                ErrorKind::HostFunction,
                format!("state slot {index} holds another type than the one given"),
            )),
            None => Err(Error::new(
                ErrorKind::HostFunction,
                format!("the instance has no state slot {index}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_instance_gets_fresh_state_and_slots_are_typed() {
        let mut host = HostFunctions::empty();
        let count = host.state(|| 0u64);
        let name = host.state(|| alloc::string::String::from("fresh"));
        let config = InstanceConfig::new();
        let mut a = HostData::new(&config, &host).unwrap();
        let mut b = HostData::new(&config, &host).unwrap();
        assert_ne!(a.streams().instance_id(), b.streams().instance_id());
        *a.state_mut(count).unwrap() = 5;
        assert_eq!(*b.state_mut(count).unwrap(), 0);
        assert_eq!(b.state_mut(name).unwrap(), "fresh");

        let foreign: StateSlot<u64> = StateSlot::new(1);
        assert_eq!(
            a.state_mut(foreign).unwrap_err().kind(),
            ErrorKind::HostFunction
        );
        assert_eq!(
            a.state_mut(StateSlot::<u64>::new(9)).unwrap_err().kind(),
            ErrorKind::HostFunction
        );

        let taken = a.take_state(count.index()).unwrap();
        assert_eq!(taken.downcast_ref::<u64>(), Some(&5));
        assert!(a.state_mut(count).is_err(), "taken out");
        assert!(a.take_state(count.index()).is_err());
        assert!(a.put_state(count.index(), Box::new("wrong type")).is_err());
        a.put_state(count.index(), Box::new(9u64)).unwrap();
        assert_eq!(*a.state_mut(count).unwrap(), 9);
        assert!(a.put_state(7, Box::new(1u64)).is_err());
    }
}
