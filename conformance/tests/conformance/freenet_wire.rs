//! refill writes and reads freenet's wire layouts by hand; these cases hold
//! it to freenet-stdlib's own serialization (`refill_fixtures::stdlib_facts`,
//! written at build time by a program linked against freenet-stdlib 0.12.1),
//! so a change on either side fails here first. Not engine-specific: no
//! guest runs.

use refill::freenet::host::encode_key_list;
use refill::freenet::message::{decode_outcome, encode_application_message};
use refill::freenet::{CodeHash, DelegateKey, Origin, OutboundMessage};
use refill_fixtures::stdlib_facts as facts;

/// Code hashes and delegate keys are freenet-stdlib's, for any code and
/// parameters (the empty ones included), and serialize as its `DelegateKey`.
#[test]
fn code_hashes_and_delegate_keys_are_the_stdlibs() {
    assert_eq!(facts::DELEGATE_KEYS.len(), 3);
    for (code, params, key, code_hash, serialized) in facts::DELEGATE_KEYS {
        let ours = DelegateKey::new(CodeHash::of(code), params);
        assert_eq!(ours.key.as_slice(), *key);
        assert_eq!(ours.code_hash.0.as_slice(), *code_hash);
        assert_eq!(ours.to_bytes().as_slice(), *serialized);
    }
    assert_eq!(
        CodeHash::of(b"\0asm\x01\0\0\0").0.as_slice(),
        facts::EMPTY_MODULE_HASH
    );
}

/// The inbound application message and the origins are serialized exactly
/// as freenet-stdlib serializes them.
#[test]
fn inbound_messages_and_origins_match_the_stdlib() {
    assert_eq!(facts::INBOUND.len(), 2);
    for (payload, context, processed, serialized) in facts::INBOUND {
        assert_eq!(
            encode_application_message(payload, context, *processed),
            *serialized
        );
    }
    assert_eq!(
        Origin::encode(Some(&Origin::WebApp([0x5A; 32]))),
        facts::ORIGIN_WEB_APP
    );
    let parent = DelegateKey::new(CodeHash::of(b"parent"), b"p");
    assert_eq!(
        Origin::encode(Some(&Origin::Delegate(parent))),
        facts::ORIGIN_DELEGATE
    );
    assert!(
        Origin::encode(None).is_empty(),
        "no origin is no bytes at all"
    );
}

/// Every outbound message refill decodes comes out of freenet-stdlib's
/// serialization with every field intact; a delegate error comes out as
/// the stdlib displays it.
#[test]
fn outbound_messages_decode_from_the_stdlibs_bytes() {
    let target = DelegateKey::new(CodeHash::of(b"target"), b"");
    let sender = DelegateKey::new(CodeHash::of(b"sender"), b"");
    let expected = vec![
        OutboundMessage::Application {
            payload: b"reply".to_vec(),
            context: b"ctx".to_vec(),
            processed: true,
        },
        OutboundMessage::ContextUpdated(vec![6, 0, 0, 0, 0, 0, 0, 0]),
        OutboundMessage::GetContract {
            contract_id: [0x11; 32],
            context: vec![],
            processed: false,
        },
        OutboundMessage::SubscribeContract {
            contract_id: [0x11; 32],
            context: vec![],
            processed: false,
        },
        OutboundMessage::UnsubscribeContract {
            contract_id: [0x11; 32],
            context: vec![],
            processed: false,
        },
        OutboundMessage::SendDelegateMessage {
            target,
            sender,
            payload: b"hi".to_vec(),
            context: b"dctx".to_vec(),
            processed: false,
        },
    ];
    assert_eq!(decode_outcome(facts::OUTBOUND).unwrap().unwrap(), expected);
    assert_eq!(facts::DELEGATE_ERRORS.len(), 2);
    for (serialized, shown) in facts::DELEGATE_ERRORS {
        assert_eq!(
            decode_outcome(serialized).unwrap(),
            Err((*shown).to_owned())
        );
    }
}

/// The key list of `list_secrets` is the stdlib's encoding.
#[test]
fn secret_key_lists_match_the_stdlib() {
    let keys = vec![b"room:alice".to_vec(), Vec::new(), b"k".to_vec()];
    assert_eq!(encode_key_list(&keys), facts::SECRET_KEY_LIST);
}
