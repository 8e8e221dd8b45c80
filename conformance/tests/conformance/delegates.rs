//! Real freenet delegates on every engine: the `freenet_vault` delegate
//! (freenet-stdlib 0.12, unmodified) using its context, every secrets
//! function, a contract's state and delegate creation, with identical
//! outcomes everywhere; and modules that only pretend to be delegates.

use refill::freenet::host::{MemoryContractStates, MemoryDelegates, MemorySecrets};
use refill::freenet::{
    CodeHash, DelegateKey, DelegateModule, DelegateOutcome, ErrorKind as FreenetErrorKind,
    FreenetHost, OutboundMessage, Result,
};
use refill::{AnyEngine, AnyInstance, Engine, EngineKind, ErrorKind, InstanceConfig};
use refill_fixtures::FREENET_VAULT;
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::wat;

/// The contract whose state the host holds for the vault.
const HELD: [u8; 32] = [0x11; 32];
/// The code the vault creates its child from: the empty module.
const CHILD: &[u8] = b"\0asm\x01\0\0\0";

/// A host with a contract state to read and stores to look into.
fn host() -> (FreenetHost, MemoryDelegates) {
    let states = MemoryContractStates::new();
    states.insert(HELD, b"state data!".to_vec());
    let delegates = MemoryDelegates::new();
    let host = FreenetHost::new()
        .with_secrets(MemorySecrets::new())
        .with_contract_states(states)
        .with_delegates(delegates.clone());
    (host, delegates)
}

fn new_vault(
    engine: EngineKind,
    host: &FreenetHost,
) -> Result<refill::freenet::Delegate<AnyInstance>> {
    let module = AnyEngine::new(engine)?.compile(FREENET_VAULT)?;
    DelegateModule::new(&module, FREENET_VAULT, host)?.instantiate(&InstanceConfig::new())
}

/// The replies of an outcome, as text, and its context update.
fn replies(outcome: &DelegateOutcome) -> (Vec<String>, Vec<Vec<u8>>) {
    let mut texts = Vec::new();
    let mut contexts = Vec::new();
    for message in &outcome.messages {
        match message {
            OutboundMessage::Application {
                payload, processed, ..
            } => {
                assert!(processed);
                texts.push(String::from_utf8(payload.clone()).unwrap());
            }
            OutboundMessage::ContextUpdated(context) => contexts.push(context.clone()),
            other => panic!("unexpected message {other:?}"),
        }
    }
    (texts, contexts)
}

fn counter(n: u64) -> Vec<u8> {
    n.to_le_bytes().to_vec()
}

/// The vault stores, reads, lists and removes secrets, reads a contract
/// state the host holds, creates a delegate keyed as freenet computes it,
/// and counts its commands in a context kept across calls of the instance;
/// a second instance of the same host sees the secrets but starts a context
/// of its own; other parameters make another delegate, with no secrets.
#[apply(engines)]
fn the_vault_delegate_uses_every_delegate_import(#[case] engine: EngineKind) -> Result<()> {
    let (host, delegates) = host();
    let mut vault = new_vault(engine, &host)?;
    let params = b"vault params";
    let first = vault
        .application_message(
            params,
            None,
            b"set a 1\nset b two words\nget a\nlen b\nhas a\nhas zz\nlist\ncreate childparams",
        )?
        .into_ok()?;
    let child = DelegateKey::new(CodeHash::of(CHILD), b"childparams");
    let (texts, contexts) = replies(&first);
    assert_eq!(
        texts,
        [
            "set a".to_owned(),
            "set b".into(),
            "a=1".into(),
            "len b=9".into(),
            "has a yes".into(),
            "has zz no".into(),
            "keys: a,b".into(),
            format!("created key={child} hash={}", child.code_hash),
        ],
        "{engine}"
    );
    assert_eq!(contexts, [counter(8)], "{engine}");
    assert_eq!(first.context, counter(8), "{engine}");
    let created = delegates.created();
    assert_eq!(created.len(), 1, "{engine}");
    assert_eq!(created[0].key, child, "{engine}");
    assert_eq!(created[0].parent, vault.key(params), "{engine}");
    assert_eq!(
        (created[0].cipher, created[0].nonce),
        ([7; 32], [9; 24]),
        "{engine}"
    );
    assert_eq!(created[0].code, CHILD, "{engine}");

    let held = hex::encode(HELD);
    let other = hex::encode([0x22; 32]);
    let second = vault
        .application_message(
            params,
            None,
            format!("get b\nremove a\nget a\nremove a\nlist b\nstate {held}\nstate {other}\nstate zz\nfrobnicate").as_bytes(),
        )?
        .into_ok()?;
    let (texts, contexts) = replies(&second);
    assert_eq!(
        texts,
        [
            "b=two words".to_owned(),
            "removed a".into(),
            "a missing".into(),
            "remove a failed".into(),
            "keys: b".into(),
            format!("state {held}={}", hex::encode(b"state data!")),
            format!("state {other} missing"),
            "state: bad id".into(),
            "unknown command".into(),
        ],
        "{engine}"
    );
    assert_eq!(
        contexts,
        [counter(17)],
        "{engine}: the context outlives the call"
    );

    let mut fresh = new_vault(engine, &host)?;
    let seen = fresh
        .application_message(params, None, b"get b")?
        .into_ok()?;
    assert_eq!(
        replies(&seen),
        (vec!["b=two words".into()], vec![counter(1)]),
        "{engine}"
    );
    let stranger = fresh
        .application_message(b"other params", None, b"get b\nlist")?
        .into_ok()?;
    assert_eq!(replies(&stranger).0, ["b missing", "keys: "], "{engine}");
    Ok(())
}

/// The delegate's own errors come back as its error, not as a trap: a
/// payload that is not UTF-8 is its `Deser` error.
#[apply(engines)]
fn a_delegate_error_is_the_delegates(#[case] engine: EngineKind) -> Result<()> {
    let (host, _) = host();
    let mut vault = new_vault(engine, &host)?;
    let outcome = vault.application_message(b"", None, &[0xff, 0xfe])?;
    let error = outcome.delegate_error.clone().expect("an error");
    assert!(
        error.starts_with("de/serialization error: "),
        "{engine}: {error}"
    );
    assert!(outcome.messages.is_empty(), "{engine}");
    let e = outcome.into_ok().unwrap_err();
    assert_eq!(e.kind(), FreenetErrorKind::DelegateError, "{engine}");
    assert_eq!(e.to_string().lines().count(), 1, "{engine}");
    Ok(())
}

/// The outcome of the same messages is byte-identical on every engine.
#[test]
fn vault_outcomes_are_identical_across_engines() -> Result<()> {
    let run = |engine: EngineKind| -> Result<Vec<DelegateOutcome>> {
        let (host, _) = host();
        let mut vault = new_vault(engine, &host)?;
        [
            "set k v\nlist\ncreate p",
            "get k\nstate 1111111111111111111111111111111111111111111111111111111111111111",
        ]
        .into_iter()
        .map(|m| vault.application_message(b"p", None, m.as_bytes()))
        .collect()
    };
    let outcomes: Vec<(EngineKind, Vec<DelegateOutcome>)> = EngineKind::compiled()
        .map(|engine| Ok((engine, run(engine)?)))
        .collect::<Result<_>>()?;
    for (engine, outcome) in &outcomes[1..] {
        assert!(
            *outcome == outcomes[0].1,
            "{engine} differs from {}",
            outcomes[0].0
        );
    }
    Ok(())
}

/// `__frnt__initiate_buffer` as a bump allocator: a 40-byte header
/// (descriptor, read cell, write cell), then the data area.
const ALLOCATOR: &str = r#"
  (global $next (mut i32) (i32.const 4096))
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64) (local $d i32)
    (local.set $d (global.get $next))
    (i64.store (local.get $d) (i64.extend_i32_u (i32.add (local.get $d) (i32.const 40))))
    (i32.store offset=8 (local.get $d) (local.get $cap))
    (i64.store offset=16 (local.get $d) (i64.extend_i32_u (i32.add (local.get $d) (i32.const 32))))
    (i64.store offset=24 (local.get $d) (i64.extend_i32_u (i32.add (local.get $d) (i32.const 36))))
    (global.set $next (i32.and (i32.add (i32.add (local.get $d) (i32.add (local.get $cap) (i32.const 40))) (i32.const 7)) (i32.const -8)))
    (i64.extend_i32_u (local.get $d)))"#;

/// A module that is no delegate fails with one typed error: no `process`,
/// a result record outside memory, a payload outside memory, a payload
/// that is not a serialized result.
#[apply(engines)]
fn not_a_delegate_is_a_typed_error(#[case] engine: EngineKind) -> Result<()> {
    let (host, _) = host();
    let kind = |body: &str| -> FreenetErrorKind {
        let wasm = wat(&format!(
            r#"(module (memory (export "memory") 1) {ALLOCATOR} {body})"#
        ));
        let run = || -> Result<DelegateOutcome> {
            let module = AnyEngine::new(engine)?.compile(&wasm)?;
            let mut delegate =
                DelegateModule::new(&module, &wasm, &host)?.instantiate(&InstanceConfig::new())?;
            delegate.application_message(b"", None, b"x")
        };
        run().map(drop).expect_err("an error").kind()
    };
    let process = |record: &str| {
        format!(
            r#"(data (i32.const 100) "\02\00\00\00garbage")
               (func (export "process") (param i64 i64 i64) (result i64) {record})"#
        )
    };
    let cases = [
        (String::new(), ErrorKind::MissingExport),
        (process("(i64.const 65530)"), ErrorKind::ResultOutOfBounds),
        (
            process(
                "(i64.store (i32.const 200) (i64.const 65000)) (i32.store (i32.const 208) (i32.const 1000)) (i64.const 200)",
            ),
            ErrorKind::ResultOutOfBounds,
        ),
    ];
    for (body, expected) in &cases {
        assert_eq!(
            kind(body),
            FreenetErrorKind::Refill(*expected),
            "{engine}: {body}"
        );
    }
    let garbage = process(
        "(i64.store (i32.const 200) (i64.const 100)) (i32.store (i32.const 208) (i32.const 11)) (i64.const 200)",
    );
    assert_eq!(kind(&garbage), FreenetErrorKind::InvalidResult, "{engine}");
    Ok(())
}
