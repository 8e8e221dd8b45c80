//! `freenet_delegate_contracts`: contract states the host holds, read by a
//! delegate with no request/response round trip.
//!
//! | import | type | returns |
//! | --- | --- | --- |
//! | `__frnt__delegate__get_contract_state_len` | `(id_ptr: i64, id_len: i32) -> i64` | the state's length |
//! | `__frnt__delegate__get_contract_state` | `(id_ptr: i64, id_len: i32, out_ptr: i64, out_len: i64) -> i64` | writes the state at `out_ptr`, returns its length |
//!
//! `id` is a 32-byte contract instance id. Codes: -1 outside `process`, -4
//! an id that is not 32 bytes or a negative `out_len`, -6 the output buffer
//! is too small, -7 no state for that contract, -8 the store failed, -9 a
//! range outside guest memory. The state goes from the store straight into
//! guest memory: the host never holds a copy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use refill_core::{Caller, HostFunctions, Result, StateSlot};

use super::codes::{
    BUFFER_TOO_SMALL, CONTRACT_NOT_FOUND, INVALID_PARAM, MEMORY_BOUNDS, NOT_IN_PROCESS, STORE_ERROR,
};
use super::env::InstanceEnv;
use super::{FreenetHost, StoreError};
use crate::key::HASH_LEN;

/// The import module.
const MODULE: &str = "freenet_delegate_contracts";

/// A contract instance id.
pub type ContractId = [u8; HASH_LEN];

/// Where a host keeps the contract states its delegates may read.
pub trait ContractStates: Send + Sync {
    /// The length of the state of `id`, if the host holds it.
    fn state_len(&self, id: &ContractId) -> Result<Option<u64>, StoreError>;
    /// Fills `dst` (exactly [`ContractStates::state_len`] bytes) with the
    /// state of `id`.
    fn read_state(&self, id: &ContractId, dst: &mut [u8]) -> Result<(), StoreError>;
}

/// Contract states in host memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryContractStates {
    states: Arc<Mutex<BTreeMap<ContractId, Vec<u8>>>>,
}

impl MemoryContractStates {
    /// No states.
    pub fn new() -> Self {
        Self::default()
    }

    /// Holds `state` for the contract `id`.
    pub fn insert(&self, id: ContractId, state: Vec<u8>) {
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, state);
    }
}

impl ContractStates for MemoryContractStates {
    fn state_len(&self, id: &ContractId) -> Result<Option<u64>, StoreError> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(states.get(id).map(|s| s.len() as u64))
    }

    fn read_state(&self, id: &ContractId, dst: &mut [u8]) -> Result<(), StoreError> {
        let states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        match states.get(id) {
            Some(state) if state.len() == dst.len() => {
                dst.copy_from_slice(state);
                Ok(())
            }
            _ => Err(StoreError::new(
                "the contract's state changed while it was read",
            )),
        }
    }
}

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost, env: StateSlot<InstanceEnv>) {
    // The contract id argument, or the code to return.
    let contract_id =
        move |caller: &mut Caller<'_>, ptr: i64, len: i32| -> Result<Result<ContractId, i64>> {
            if caller.state(env)?.call.is_none() {
                return Ok(Err(NOT_IN_PROCESS.into()));
            }
            if usize::try_from(len) != Ok(HASH_LEN) {
                return Ok(Err(INVALID_PARAM.into()));
            }
            let mut id = [0; HASH_LEN];
            Ok(match caller.read_into(ptr, &mut id) {
                Ok(()) => Ok(id),
                Err(_) => Err(MEMORY_BOUNDS.into()),
            })
        };

    let states = Arc::clone(&host.contracts);
    set.func(
        MODULE,
        "__frnt__delegate__get_contract_state_len",
        move |caller: &mut Caller<'_>, id_ptr: i64, id_len: i32| -> Result<i64> {
            let id = match contract_id(caller, id_ptr, id_len)? {
                Ok(id) => id,
                Err(code) => return Ok(code),
            };
            Ok(match states.state_len(&id) {
                Ok(Some(len)) => i64::try_from(len).unwrap_or(i64::MAX),
                Ok(None) => CONTRACT_NOT_FOUND.into(),
                Err(e) => store_error(&e),
            })
        },
    );

    let states = Arc::clone(&host.contracts);
    set.func(
        MODULE,
        "__frnt__delegate__get_contract_state",
        move |caller: &mut Caller<'_>,
              id_ptr: i64,
              id_len: i32,
              out_ptr: i64,
              out_len: i64|
              -> Result<i64> {
            let id = match contract_id(caller, id_ptr, id_len)? {
                Ok(id) => id,
                Err(code) => return Ok(code),
            };
            if out_len < 0 {
                return Ok(INVALID_PARAM.into());
            }
            let len = match states.state_len(&id) {
                Ok(Some(len)) => len,
                Ok(None) => return Ok(CONTRACT_NOT_FOUND.into()),
                Err(e) => return Ok(store_error(&e)),
            };
            let Ok(len) = i64::try_from(len) else {
                return Ok(STORE_ERROR.into());
            };
            if len > out_len {
                return Ok(BUFFER_TOO_SMALL.into());
            }
            if caller.range(out_ptr, len).is_err() {
                return Ok(MEMORY_BOUNDS.into());
            }
            let mut failure = None;
            caller.write_with(out_ptr, len, &mut |dst| {
                if let Err(e) = states.read_state(&id, dst) {
                    failure = Some(e);
                }
                Ok(())
            })?;
            Ok(match failure {
                None => len,
                Some(e) => store_error(&e),
            })
        },
    );
}

/// -8, with the store's error in the host's log.
fn store_error(error: &StoreError) -> i64 {
    tracing::warn!(target: "contract", "contract-state store: {error}");
    STORE_ERROR.into()
}
