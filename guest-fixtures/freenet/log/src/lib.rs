//! `freenet_log`: a freenet contract whose state is an append-only log of
//! bytes, written against freenet-stdlib 0.12 and nothing of refill's (apart
//! from the digest it shares with the host's tests).
//!
//! Every entry point receives its arguments whole, as freenet-stdlib's
//! generated glue collects them (`read_to_end` over the streaming refill
//! buffer), and does work over the whole state:
//!
//! - **Parameters**: empty (no limit), `[max_len: u64 LE]`, or
//!   `[max_len: u64 LE][forbidden: u8]`. Any other length is a
//!   `ContractError::Deser`.
//! - **`validate_state`**: `Invalid` if the state is longer than `max_len` or
//!   holds the forbidden byte anywhere, `Valid` otherwise.
//! - **`summarize_state`**: `[len: u64 LE][digest: u64 LE]`, the state's
//!   length and `refill_testkit::digest`.
//! - **`get_state_delta(summary)`**: if the summary describes a prefix of the
//!   state (its length fits and the prefix's digest matches), the delta is
//!   `[0][the rest of the state]`; otherwise `[1][the whole state]`. A summary
//!   that is not 16 bytes is a `ContractError::Deser`.
//! - **`update_state(updates)`**: applies each update in order: a delta
//!   `[0][bytes]` appends, `[1][bytes]` replaces, anything else is
//!   `ContractError::InvalidDelta`; a whole `State` replaces the log if it is
//!   longer; other kinds of update are `ContractError::InvalidUpdate`. A result
//!   longer than `max_len` is `InvalidUpdateWithInfo`. Returns the new state.

use freenet_stdlib::prelude::*;
use refill_testkit::digest;

/// The contract. Its state is the log's bytes.
pub struct Log;

/// Delta tag: the bytes that follow extend the log.
const APPEND: u8 = 0;
/// Delta tag: the bytes that follow replace the log.
const REPLACE: u8 = 1;

/// What the parameters allow.
struct Rules {
    max_len: u64,
    forbidden: Option<u8>,
}

impl Rules {
    fn parse(parameters: &Parameters<'_>) -> Result<Self, ContractError> {
        let bytes = parameters.as_ref();
        let max_len = |b: &[u8]| u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        match bytes.len() {
            0 => Ok(Self {
                max_len: u64::MAX,
                forbidden: None,
            }),
            8 => Ok(Self {
                max_len: max_len(bytes),
                forbidden: None,
            }),
            9 => Ok(Self {
                max_len: max_len(bytes),
                forbidden: Some(bytes[8]),
            }),
            n => Err(ContractError::Deser(format!(
                "parameters must be 0, 8 or 9 bytes, got {n}"
            ))),
        }
    }

    fn allows(&self, state: &[u8]) -> bool {
        state.len() as u64 <= self.max_len
            && self.forbidden.is_none_or(|byte| !state.contains(&byte))
    }
}

/// `[len: u64 LE][digest: u64 LE]` of `bytes`.
fn summary_of(bytes: &[u8]) -> Vec<u8> {
    let mut summary = Vec::with_capacity(16);
    summary.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    summary.extend_from_slice(&digest(bytes).to_le_bytes());
    summary
}

fn tagged(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.push(tag);
    out.extend_from_slice(bytes);
    out
}

#[contract]
impl ContractInterface for Log {
    fn validate_state(
        parameters: Parameters<'static>,
        state: State<'static>,
        _related: RelatedContracts<'static>,
    ) -> Result<ValidateResult, ContractError> {
        let rules = Rules::parse(&parameters)?;
        Ok(if rules.allows(state.as_ref()) {
            ValidateResult::Valid
        } else {
            ValidateResult::Invalid
        })
    }

    fn update_state(
        parameters: Parameters<'static>,
        state: State<'static>,
        data: Vec<UpdateData<'static>>,
    ) -> Result<UpdateModification<'static>, ContractError> {
        let rules = Rules::parse(&parameters)?;
        let mut log = state.into_bytes();
        for update in data {
            match update {
                UpdateData::Delta(delta) => match delta.as_ref().split_first() {
                    Some((&APPEND, bytes)) => log.extend_from_slice(bytes),
                    Some((&REPLACE, bytes)) => log = bytes.to_vec(),
                    _ => return Err(ContractError::InvalidDelta),
                },
                UpdateData::State(whole) => {
                    if whole.as_ref().len() > log.len() {
                        log = whole.into_bytes();
                    }
                }
                _ => return Err(ContractError::InvalidUpdate),
            }
        }
        if !rules.allows(&log) {
            return Err(ContractError::InvalidUpdateWithInfo {
                reason: format!(
                    "the updated log of {} bytes breaks the parameters",
                    log.len()
                ),
            });
        }
        Ok(UpdateModification::valid(State::from(log)))
    }

    fn summarize_state(
        _parameters: Parameters<'static>,
        state: State<'static>,
    ) -> Result<StateSummary<'static>, ContractError> {
        Ok(StateSummary::from(summary_of(state.as_ref())))
    }

    fn get_state_delta(
        _parameters: Parameters<'static>,
        state: State<'static>,
        summary: StateSummary<'static>,
    ) -> Result<StateDelta<'static>, ContractError> {
        let summary = summary.as_ref();
        let Ok(summary) = <[u8; 16]>::try_from(summary) else {
            return Err(ContractError::Deser(format!(
                "a summary is 16 bytes, got {}",
                summary.len()
            )));
        };
        let state = state.as_ref();
        let known = u64::from_le_bytes(summary[..8].try_into().expect("8 bytes"));
        let prefix = usize::try_from(known)
            .ok()
            .and_then(|len| state.get(..len))
            .filter(|prefix| summary_of(prefix) == summary);
        Ok(StateDelta::from(match prefix {
            Some(prefix) => tagged(APPEND, &state[prefix.len()..]),
            None => tagged(REPLACE, state),
        }))
    }
}
