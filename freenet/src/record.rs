//! The 16-byte result record every entry point returns the address of.
//!
//! ```text
//! offset 0  ptr:  i64 LE  guest address of the serialized payload
//! offset 8  kind: i32 LE  0 validate_state, 1 validate_delta, 2 update_state,
//!                         3 summarize_state, 4 state_delta
//! offset 12 size: u32 LE  length of the payload in bytes
//! ```

use core::fmt;

use crate::error::{Error, ErrorKind, Result};

/// The size of a result record in bytes.
pub const RECORD_LEN: u64 = 16;

/// What a result record says its payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResultKind {
    /// `Result<ValidateResult, ContractError>`.
    ValidateState,
    /// `Result<bool, ContractError>` (freenet-stdlib also uses it for some
    /// errors of `validate_state`).
    ValidateDelta,
    /// `Result<UpdateModification, ContractError>`.
    UpdateState,
    /// `Result<StateSummary, ContractError>`.
    SummarizeState,
    /// `Result<StateDelta, ContractError>`.
    StateDelta,
}

impl ResultKind {
    /// The kind for a record's `kind` field, if it names one.
    pub const fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            0 => Self::ValidateState,
            1 => Self::ValidateDelta,
            2 => Self::UpdateState,
            3 => Self::SummarizeState,
            4 => Self::StateDelta,
            _ => return None,
        })
    }

    /// The `kind` field's value.
    pub const fn code(self) -> i32 {
        match self {
            Self::ValidateState => 0,
            Self::ValidateDelta => 1,
            Self::UpdateState => 2,
            Self::SummarizeState => 3,
            Self::StateDelta => 4,
        }
    }

    /// The name freenet-stdlib gives it, in snake case (`summarize_state`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::ValidateState => "validate_state",
            Self::ValidateDelta => "validate_delta",
            Self::UpdateState => "update_state",
            Self::SummarizeState => "summarize_state",
            Self::StateDelta => "state_delta",
        }
    }
}

impl fmt::Display for ResultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded result record. Its fields are the guest's word: nothing here is
/// trusted until [`crate::Contract`] has checked it against guest memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultRecord {
    /// Guest address of the payload.
    pub ptr: i64,
    /// What the payload is.
    pub kind: ResultKind,
    /// Length of the payload in bytes.
    pub size: u32,
}

impl ResultRecord {
    /// Decodes the 16 record bytes read at `addr` (named in errors). An
    /// unknown kind is an [`ErrorKind::InvalidResult`].
    pub fn decode(bytes: &[u8; RECORD_LEN as usize], addr: i64) -> Result<Self> {
        let word = |at: usize| <[u8; 4]>::try_from(&bytes[at..at + 4]).expect("4 bytes");
        let ptr = i64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
        let code = i32::from_le_bytes(word(8));
        let size = u32::from_le_bytes(word(12));
        let kind = ResultKind::from_code(code).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidResult,
                format!("result record at {addr:#x} has kind {code}, which is none of 0..=4"),
            )
        })?;
        Ok(Self { ptr, kind, size })
    }

    /// The 16 bytes of the record, for tests and hosts that play the guest.
    pub fn encode(&self) -> [u8; RECORD_LEN as usize] {
        let mut bytes = [0; RECORD_LEN as usize];
        bytes[..8].copy_from_slice(&self.ptr.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.kind.code().to_le_bytes());
        bytes[12..].copy_from_slice(&self.size.to_le_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_unknown_kinds_are_refused() {
        for code in 0..5 {
            let kind = ResultKind::from_code(code).unwrap();
            assert_eq!(kind.code(), code);
            let r = ResultRecord {
                ptr: 0x1234_5678,
                kind,
                size: 77,
            };
            assert_eq!(ResultRecord::decode(&r.encode(), 0).unwrap(), r);
        }
        let mut bytes = [0u8; 16];
        bytes[8..12].copy_from_slice(&5i32.to_le_bytes());
        let e = ResultRecord::decode(&bytes, 0x40).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResult);
        assert!(e.to_string().contains("0x40"), "{e}");
    }
}
