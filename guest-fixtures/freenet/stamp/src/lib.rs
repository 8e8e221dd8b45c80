//! `freenet_stamp`: a freenet contract that uses every host function a
//! contract can reach besides the refill buffer: it logs
//! (`freenet_log.__frnt__logger__info`), reads the clock
//! (`freenet_time.__frnt__time__utc_now`) and draws random bytes
//! (`freenet_rand.__frnt__rand__rand_bytes`), all through freenet-stdlib 0.12.
//! Given a fixed clock and a seeded RNG on the host, every result is exactly
//! predictable.
//!
//! Like `freenet_log`, every entry point receives its arguments whole, as
//! freenet-stdlib's generated glue collects them over the streaming refill
//! buffer. The parameters are ignored. All integers are little-endian.
//!
//! - **`validate_state`**: logs `stamp: validate {n} bytes` (`n` the state's
//!   length) and returns `Valid`.
//! - **`summarize_state`**: logs `stamp: summarize {n} bytes`, then reads the
//!   clock once and draws 16 random bytes, in that order, and returns a
//!   60-byte summary:
//!
//!   ```text
//!   [year: i32][ordinal day of the year, 1..=366: u32]
//!   [weekday, days from Monday, 0..=6: u32][seconds from midnight: u32]
//!   [nanoseconds: u32][unix timestamp in seconds: i64]
//!   [random: 16 bytes][state length: u64][refill_testkit::digest(state): u64]
//!   ```
//!
//!   (chrono's `Datelike::{year, ordinal}`, `Weekday::num_days_from_monday`,
//!   `Timelike::{num_seconds_from_midnight, nanosecond}`, `timestamp`.)
//! - **`get_state_delta(summary)`**: logs `stamp: delta` and returns the state
//!   unchanged as the delta; the summary is ignored.
//! - **`update_state(updates)`**: for each update in order, a
//!   `UpdateData::Delta(d)` reads the clock once, then draws 8 random bytes,
//!   then appends an entry to the state:
//!
//!   ```text
//!   [unix seconds: i64][nanoseconds: u32][random: 8 bytes][d.len(): u32][d]
//!   ```
//!
//!   (`timestamp`, `timestamp_subsec_nanos`). Any other kind of update is
//!   `ContractError::InvalidUpdate`, returned at once (the entries before it
//!   are dropped with the rest of the call). After the last update it logs
//!   `stamp: update +{k} entries` (`k` the number of deltas) and returns the
//!   new state as `UpdateModification::valid`.

use chrono::{DateTime, Datelike, Timelike, Utc};
use freenet_stdlib::prelude::*;
use refill_testkit::digest;

/// The contract. Its state is any bytes; updates append stamped entries.
pub struct Stamp;

/// The length of a summary, in bytes.
const SUMMARY_LEN: usize = 60;

/// How many random bytes a summary carries.
const SUMMARY_RANDOM: u32 = 16;

/// How many random bytes an appended entry carries.
const ENTRY_RANDOM: u32 = 8;

/// The 60-byte summary of `state`, stamped with `now` and `random`.
fn summary_of(now: DateTime<Utc>, random: &[u8], state: &[u8]) -> Vec<u8> {
    let mut summary = Vec::with_capacity(SUMMARY_LEN);
    summary.extend_from_slice(&now.year().to_le_bytes());
    summary.extend_from_slice(&now.ordinal().to_le_bytes());
    summary.extend_from_slice(&now.weekday().num_days_from_monday().to_le_bytes());
    summary.extend_from_slice(&now.num_seconds_from_midnight().to_le_bytes());
    summary.extend_from_slice(&now.nanosecond().to_le_bytes());
    summary.extend_from_slice(&now.timestamp().to_le_bytes());
    summary.extend_from_slice(random);
    summary.extend_from_slice(&(state.len() as u64).to_le_bytes());
    summary.extend_from_slice(&digest(state).to_le_bytes());
    debug_assert_eq!(summary.len(), SUMMARY_LEN);
    summary
}

/// Appends one stamped entry for `delta` to `state`: one clock reading, then
/// one draw of 8 random bytes.
fn append_entry(state: &mut Vec<u8>, delta: &[u8]) {
    let now = freenet_stdlib::time::now();
    let random = freenet_stdlib::rand::rand_bytes(ENTRY_RANDOM);
    state.extend_from_slice(&now.timestamp().to_le_bytes());
    state.extend_from_slice(&now.timestamp_subsec_nanos().to_le_bytes());
    state.extend_from_slice(&random);
    state.extend_from_slice(&(delta.len() as u32).to_le_bytes());
    state.extend_from_slice(delta);
}

#[contract]
impl ContractInterface for Stamp {
    fn validate_state(
        _parameters: Parameters<'static>,
        state: State<'static>,
        _related: RelatedContracts<'static>,
    ) -> Result<ValidateResult, ContractError> {
        freenet_stdlib::log::info(&format!("stamp: validate {} bytes", state.as_ref().len()));
        Ok(ValidateResult::Valid)
    }

    fn update_state(
        _parameters: Parameters<'static>,
        state: State<'static>,
        data: Vec<UpdateData<'static>>,
    ) -> Result<UpdateModification<'static>, ContractError> {
        let mut state = state.into_bytes();
        let mut entries = 0usize;
        for update in data {
            match update {
                UpdateData::Delta(delta) => {
                    append_entry(&mut state, delta.as_ref());
                    entries += 1;
                }
                _ => return Err(ContractError::InvalidUpdate),
            }
        }
        freenet_stdlib::log::info(&format!("stamp: update +{entries} entries"));
        Ok(UpdateModification::valid(State::from(state)))
    }

    fn summarize_state(
        _parameters: Parameters<'static>,
        state: State<'static>,
    ) -> Result<StateSummary<'static>, ContractError> {
        let state = state.as_ref();
        freenet_stdlib::log::info(&format!("stamp: summarize {} bytes", state.len()));
        let now = freenet_stdlib::time::now();
        let random = freenet_stdlib::rand::rand_bytes(SUMMARY_RANDOM);
        Ok(StateSummary::from(summary_of(now, &random, state)))
    }

    fn get_state_delta(
        _parameters: Parameters<'static>,
        state: State<'static>,
        _summary: StateSummary<'static>,
    ) -> Result<StateDelta<'static>, ContractError> {
        freenet_stdlib::log::info("stamp: delta");
        Ok(StateDelta::from(state.into_bytes()))
    }
}
