//! Reading a result payload without freenet-stdlib: the payload is the
//! bincode 1 serialization (little-endian fixed-width integers, `u64`
//! lengths, `u32` enum tags, `u8` option tags) of
//! `Result<T, ContractError>`, with `T` set by the record's kind.

use crate::error::Result;
use crate::wire::Reader;

use crate::record::ResultKind;

/// What `validate_state` decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// `ValidateResult::Valid`.
    Valid,
    /// `ValidateResult::Invalid`.
    Invalid,
    /// `ValidateResult::RequestRelated`, with how many contracts it asks for.
    RequestRelated(u64),
}

/// The successful value of a result payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `validate_state`'s verdict.
    Validate(Validity),
    /// A `validate_delta` verdict.
    DeltaValid(bool),
    /// `update_state`'s modification: the new state, if any, and how many
    /// related contracts it asks for.
    Update {
        /// The new state's bytes.
        new_state: Option<&'a [u8]>,
        /// Related contracts requested.
        related: u64,
    },
    /// `summarize_state`'s summary bytes.
    Summary(&'a [u8]),
    /// `get_state_delta`'s delta bytes.
    Delta(&'a [u8]),
}

/// Decodes `payload` as the serialized `Result` of `kind`: the value, or
/// the contract's error as freenet-stdlib displays it. A payload that is not
/// such a serialization is an [`crate::ErrorKind::InvalidResult`].
pub fn decode(kind: ResultKind, payload: &[u8]) -> Result<core::result::Result<Value<'_>, String>> {
    let mut r = Reader::new(payload, format!("{kind} payload"));
    match r.u32()? {
        0 => {}
        1 => return Ok(Err(contract_error(&mut r)?)),
        tag => return Err(r.invalid(format!("its Result tag is {tag}, not 0 (Ok) or 1 (Err)"))),
    }
    let value = match kind {
        ResultKind::ValidateState => Value::Validate(match r.u32()? {
            0 => Validity::Valid,
            1 => Validity::Invalid,
            2 => {
                let n = r.u64()?;
                // Each requested contract is a 32-byte instance id.
                r.take(
                    n.checked_mul(32)
                        .ok_or_else(|| r.invalid("a length overflows"))?,
                )?;
                Validity::RequestRelated(n)
            }
            tag => return Err(r.invalid(format!("ValidateResult tag {tag} is unknown"))),
        }),
        ResultKind::ValidateDelta => Value::DeltaValid(r.bool()?),
        ResultKind::UpdateState => {
            let new_state = match r.u8()? {
                0 => None,
                1 => Some(r.bytes()?),
                b => return Err(r.invalid(format!("Option tag {b} is neither 0 nor 1"))),
            };
            let related = r.u64()?;
            // The related contracts' entries are not read: their count is
            // what a host needs to know that it must fetch them.
            return Ok(Ok(Value::Update { new_state, related }));
        }
        ResultKind::SummarizeState => Value::Summary(r.bytes()?),
        ResultKind::StateDelta => Value::Delta(r.bytes()?),
    };
    r.end()?;
    Ok(Ok(value))
}

/// A `ContractError`, displayed as freenet-stdlib displays it.
fn contract_error(r: &mut Reader<'_>) -> Result<String> {
    let message = match r.u32()? {
        0 => format!("de/serialization error: {}", r.string()?),
        1 => "invalid contract update".to_owned(),
        2 => format!("invalid contract update, reason: {}", r.string()?),
        3 => "trying to read an invalid state".to_owned(),
        4 => "trying to read an invalid delta".to_owned(),
        5 => r.string()?,
        // `ContractError` is non-exhaustive: a newer stdlib may add more.
        tag => return Ok(format!("contract error of unknown variant {tag}")),
    };
    r.end()?;
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn ok(rest: &[u8]) -> Vec<u8> {
        let mut v = 0u32.to_le_bytes().to_vec();
        v.extend_from_slice(rest);
        v
    }

    fn bytes(b: &[u8]) -> Vec<u8> {
        let mut v = (b.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(b);
        v
    }

    #[test]
    fn decodes_each_kind_of_value() {
        let valid = ok(&1u32.to_le_bytes());
        assert_eq!(
            decode(ResultKind::ValidateState, &valid).unwrap(),
            Ok(Value::Validate(Validity::Invalid))
        );
        let summary = ok(&bytes(b"sum"));
        assert_eq!(
            decode(ResultKind::SummarizeState, &summary).unwrap(),
            Ok(Value::Summary(b"sum"))
        );
        let mut update = ok(&[1]);
        update.extend(bytes(b"new"));
        update.extend(0u64.to_le_bytes());
        assert_eq!(
            decode(ResultKind::UpdateState, &update).unwrap(),
            Ok(Value::Update {
                new_state: Some(b"new"),
                related: 0
            })
        );
        assert_eq!(
            decode(ResultKind::ValidateDelta, &ok(&[1])).unwrap(),
            Ok(Value::DeltaValid(true))
        );
    }

    #[test]
    fn decodes_contract_errors_as_freenet_displays_them() {
        let mut err = 1u32.to_le_bytes().to_vec();
        err.extend(2u32.to_le_bytes());
        err.extend(bytes(b"too long"));
        assert_eq!(
            decode(ResultKind::UpdateState, &err).unwrap(),
            Err("invalid contract update, reason: too long".to_owned())
        );
    }

    #[test]
    fn garbage_is_an_invalid_result_never_a_panic() {
        let cases: &[&[u8]] = &[
            &[],
            &[0, 0],
            &[2, 0, 0, 0],
            &[0, 0, 0, 0, 9, 0, 0, 0],
            &[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ];
        for kind in (0..5).filter_map(ResultKind::from_code) {
            for case in cases {
                let e = decode(kind, case).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::InvalidResult, "{kind} {case:?}");
            }
        }
        let trailing = ok(&[0, 0, 0, 0, 7]);
        let e = decode(ResultKind::ValidateState, &trailing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResult);
    }
}
