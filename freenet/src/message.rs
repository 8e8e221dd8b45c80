//! Delegate messages in freenet-stdlib's bincode layout: the inbound
//! message and origin the host passes to `process`, and the outbound
//! messages it returns.
//!
//! ```text
//! InboundDelegateMsg::ApplicationMessage   [0: u32][payload: u64 len + bytes][context: u64 len + bytes][processed: u8]
//! Option<MessageOrigin>                    none: 0 bytes; WebApp(id): [0: u32][id: 32]; Delegate(key): [1: u32][key: 32][code hash: 32]
//! Result<Vec<OutboundDelegateMsg>, DelegateError>
//!                                          Ok: [0: u32][count: u64][message]...; Err: [1: u32][0 Deser | 1 Other: u32][text: u64 len + bytes]
//! ```

use crate::error::Result;
use crate::key::{CodeHash, DelegateKey, HASH_LEN};
use crate::wire::{Reader, Writer};

/// Where an inbound message comes from (freenet-stdlib's `MessageOrigin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A web application backed by the contract with this instance id.
    WebApp([u8; HASH_LEN]),
    /// Another delegate.
    Delegate(DelegateKey),
}

impl Origin {
    /// The serialized `Option<MessageOrigin>` of `origin`: what `process`
    /// gets as its `origin` argument (no bytes at all for none).
    pub fn encode(origin: Option<&Origin>) -> Vec<u8> {
        let mut w = Writer::default();
        match origin {
            None => {}
            Some(Origin::WebApp(id)) => {
                w.u32(0).raw(id);
            }
            Some(Origin::Delegate(key)) => {
                w.u32(1).raw(&key.to_bytes());
            }
        }
        w.0
    }
}

/// The serialized `InboundDelegateMsg::ApplicationMessage { payload,
/// context, processed }`.
pub fn encode_application_message(payload: &[u8], context: &[u8], processed: bool) -> Vec<u8> {
    let mut w = Writer::default();
    w.u32(0).bytes(payload).bytes(context).bool(processed);
    w.0
}

/// An outbound delegate message, decoded.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboundMessage {
    /// `ApplicationMessage`: for the application.
    Application {
        /// What the delegate sends.
        payload: Vec<u8>,
        /// The context it attaches.
        context: Vec<u8>,
        /// Whether it is final.
        processed: bool,
    },
    /// `RequestUserInput`: a question for the user.
    RequestUserInput {
        /// The request's id.
        request_id: u32,
        /// The question.
        message: Vec<u8>,
        /// The answers offered.
        responses: Vec<Vec<u8>>,
    },
    /// `ContextUpdated`: the delegate's new context, which replaces the
    /// instance's once the call returns (as freenet-core does).
    ContextUpdated(Vec<u8>),
    /// `GetContractRequest`.
    GetContract {
        /// The contract instance id.
        contract_id: [u8; HASH_LEN],
        /// The context it attaches.
        context: Vec<u8>,
        /// Whether it is final.
        processed: bool,
    },
    /// `SubscribeContractRequest`.
    SubscribeContract {
        /// The contract instance id.
        contract_id: [u8; HASH_LEN],
        /// The context it attaches.
        context: Vec<u8>,
        /// Whether it is final.
        processed: bool,
    },
    /// `UnsubscribeContractRequest`.
    UnsubscribeContract {
        /// The contract instance id.
        contract_id: [u8; HASH_LEN],
        /// The context it attaches.
        context: Vec<u8>,
        /// Whether it is final.
        processed: bool,
    },
    /// `SendDelegateMessage`: for another delegate.
    SendDelegateMessage {
        /// The delegate it is for.
        target: DelegateKey,
        /// The delegate it claims to be from (a host attests the real one).
        sender: DelegateKey,
        /// What it sends.
        payload: Vec<u8>,
        /// The context it attaches.
        context: Vec<u8>,
        /// Whether it is final.
        processed: bool,
    },
    /// A message refill does not decode (`PutContractRequest`,
    /// `UpdateContractRequest`, or a variant of a newer stdlib): bincode is
    /// not self-describing, so decoding stops here and `rest` holds the
    /// bytes from its tag on.
    Undecoded {
        /// The variant's tag.
        tag: u32,
        /// The serialized rest of the list, from that tag on.
        rest: Vec<u8>,
    },
}

impl OutboundMessage {
    /// A short name for the kind of message (`application`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Application { .. } => "application",
            Self::RequestUserInput { .. } => "request_user_input",
            Self::ContextUpdated(_) => "context_updated",
            Self::GetContract { .. } => "get_contract",
            Self::SubscribeContract { .. } => "subscribe_contract",
            Self::UnsubscribeContract { .. } => "unsubscribe_contract",
            Self::SendDelegateMessage { .. } => "send_delegate_message",
            Self::Undecoded { tag: 4, .. } => "put_contract",
            Self::Undecoded { tag: 5, .. } => "update_contract",
            Self::Undecoded { .. } => "undecoded",
        }
    }

    /// The message's main bytes: an application or delegate message's
    /// payload, a context update's context, a request's contract id, the
    /// question of a user-input request, the undecoded rest.
    pub fn payload(&self) -> &[u8] {
        match self {
            Self::Application { payload, .. } | Self::SendDelegateMessage { payload, .. } => {
                payload
            }
            Self::RequestUserInput { message, .. } => message,
            Self::ContextUpdated(context) => context,
            Self::GetContract { contract_id, .. }
            | Self::SubscribeContract { contract_id, .. }
            | Self::UnsubscribeContract { contract_id, .. } => contract_id,
            Self::Undecoded { rest, .. } => rest,
        }
    }
}

/// Decodes `payload` as the serialized result of `process`: the outbound
/// messages, or the delegate's error as freenet-stdlib displays it. A
/// payload that is not such a serialization is an
/// [`crate::ErrorKind::InvalidResult`].
pub fn decode_outcome(
    payload: &[u8],
) -> Result<core::result::Result<Vec<OutboundMessage>, String>> {
    let mut r = Reader::new(payload, "delegate result payload");
    match r.u32()? {
        0 => {}
        1 => {
            let message = match r.u32()? {
                0 => format!("de/serialization error: {}", r.string()?),
                1 => r.string()?,
                // `DelegateError` is non-exhaustive: a newer stdlib may add more.
                tag => return Ok(Err(format!("delegate error of unknown variant {tag}"))),
            };
            r.end()?;
            return Ok(Err(message));
        }
        tag => return Err(r.invalid(format!("its Result tag is {tag}, not 0 (Ok) or 1 (Err)"))),
    }
    let count = r.u64()?;
    let mut messages = Vec::new();
    for _ in 0..count {
        let at = r.rest();
        let context_message = |r: &mut Reader<'_>| -> Result<([u8; HASH_LEN], Vec<u8>, bool)> {
            Ok((r.array()?, r.bytes()?.to_vec(), r.bool()?))
        };
        let message = match r.u32()? {
            0 => OutboundMessage::Application {
                payload: r.bytes()?.to_vec(),
                context: r.bytes()?.to_vec(),
                processed: r.bool()?,
            },
            1 => {
                let request_id = r.u32()?;
                let message = r.bytes()?.to_vec();
                let n = r.u64()?;
                let mut responses = Vec::new();
                for _ in 0..n {
                    responses.push(r.bytes()?.to_vec());
                }
                OutboundMessage::RequestUserInput {
                    request_id,
                    message,
                    responses,
                }
            }
            2 => OutboundMessage::ContextUpdated(r.bytes()?.to_vec()),
            3 => {
                let (contract_id, context, processed) = context_message(&mut r)?;
                OutboundMessage::GetContract {
                    contract_id,
                    context,
                    processed,
                }
            }
            6 => {
                let (contract_id, context, processed) = context_message(&mut r)?;
                OutboundMessage::SubscribeContract {
                    contract_id,
                    context,
                    processed,
                }
            }
            7 => {
                let target = delegate_key(&mut r)?;
                let sender = delegate_key(&mut r)?;
                OutboundMessage::SendDelegateMessage {
                    target,
                    sender,
                    payload: r.bytes()?.to_vec(),
                    context: r.bytes()?.to_vec(),
                    processed: r.bool()?,
                }
            }
            8 => {
                let (contract_id, context, processed) = context_message(&mut r)?;
                OutboundMessage::UnsubscribeContract {
                    contract_id,
                    context,
                    processed,
                }
            }
            tag => {
                messages.push(OutboundMessage::Undecoded {
                    tag,
                    rest: at.to_vec(),
                });
                return Ok(Ok(messages));
            }
        };
        messages.push(message);
    }
    r.end()?;
    Ok(Ok(messages))
}

fn delegate_key(r: &mut Reader<'_>) -> Result<DelegateKey> {
    Ok(DelegateKey {
        key: r.array()?,
        code_hash: CodeHash(r.array()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn application_messages_and_context_updates_decode() {
        let mut w = Writer::default();
        w.u32(0).raw(&3u64.to_le_bytes());
        w.u32(0).bytes(b"reply").bytes(b"ctx").bool(true);
        w.u32(2).bytes(b"new context");
        w.u32(4).raw(b"opaque");
        let decoded = decode_outcome(&w.0).unwrap().unwrap();
        assert_eq!(
            decoded[0],
            OutboundMessage::Application {
                payload: b"reply".to_vec(),
                context: b"ctx".to_vec(),
                processed: true
            }
        );
        assert_eq!(
            decoded[1],
            OutboundMessage::ContextUpdated(b"new context".to_vec())
        );
        assert_eq!(decoded[2].kind(), "put_contract");
        assert!(decoded[2].payload().starts_with(&4u32.to_le_bytes()));

        let mut err = Writer::default();
        err.u32(1).u32(1).bytes(b"no such key");
        assert_eq!(
            decode_outcome(&err.0).unwrap(),
            Err("no such key".to_owned())
        );
    }

    #[test]
    fn garbage_is_an_invalid_result() {
        for bytes in [
            &b""[..],
            &[2, 0, 0, 0],
            &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0],
        ] {
            let e = decode_outcome(bytes).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResult);
        }
    }

    #[test]
    fn inbound_messages_and_origins_have_the_stdlib_layout() {
        let m = encode_application_message(b"hi", b"c", false);
        assert_eq!(
            m,
            [
                0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, b'h', b'i', 1, 0, 0, 0, 0, 0, 0, 0, b'c', 0
            ]
        );
        assert!(Origin::encode(None).is_empty());
        assert_eq!(Origin::encode(Some(&Origin::WebApp([7; 32]))).len(), 36);
    }
}
