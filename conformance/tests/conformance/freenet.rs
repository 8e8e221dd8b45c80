//! Real freenet contracts, unmodified, on every engine: the `freenet_log`
//! contract built against freenet-stdlib 0.12 from crates.io, a legacy
//! (pre-streaming) contract, and modules that only pretend to be contracts.
//!
//! Expected payloads are built here, byte by byte, from a model of the
//! contract and the bincode 1 layout freenet-stdlib writes: they do not come
//! from refill-freenet's own decoder.

use std::time::Duration;

use refill::freenet::{
    Contract, ContractModule, ContractResult, Entry, ErrorKind as FreenetKind, LegacyPolicy,
    Protocol, Result, ResultKind, Validity, Value,
};
use refill::{
    AnyEngine, AnyInstance, BoxedSource, BytesSource, Engine, EngineKind, ErrorKind, Instance,
    InstanceConfig, IntoBoxedSource,
};
use refill_conformance::expected_fills;
use refill_fixtures::FREENET_LOG;
use refill_testkit::{digest, generated};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::wat;

/// The state sizes every entry point runs with: empty, one byte, around
/// the 64 KiB buffer, and beyond 10 MiB.
const STATE_SIZES: [usize; 5] = [0, 1, (64 << 10) - 5, (64 << 10) + 5, (10 << 20) + 3];

/// The chunk freenet's host uses, and refill's default.
const CHUNK: u32 = 64 << 10;

/// A contract on `engine` for `wasm`, served with `legacy`.
fn contract(
    engine: EngineKind,
    wasm: &[u8],
    legacy: LegacyPolicy,
) -> Result<Contract<AnyInstance>> {
    let module = AnyEngine::new(engine)?.compile(wasm)?;
    Contract::instantiate(
        &module,
        &InstanceConfig::new().with_chunk_size(CHUNK),
        legacy,
    )
}

fn source(bytes: &[u8]) -> BoxedSource {
    BytesSource::new(bytes.to_vec()).boxed()
}

/// bincode 1: a byte string is its `u64` length, then its bytes.
fn byte_string(bytes: &[u8]) -> Vec<u8> {
    let mut v = (bytes.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(bytes);
    v
}

/// bincode 1: `Ok(value)` is the `u32` tag 0, then the value.
fn ok(value: &[u8]) -> Vec<u8> {
    let mut v = 0u32.to_le_bytes().to_vec();
    v.extend_from_slice(value);
    v
}

/// bincode 1: `Err(ContractError::variant(text))`.
fn contract_err(variant: u32, text: Option<&str>) -> Vec<u8> {
    let mut v = 1u32.to_le_bytes().to_vec();
    v.extend(variant.to_le_bytes());
    if let Some(text) = text {
        v.extend(byte_string(text.as_bytes()));
    }
    v
}

/// The contract's summary of `state`: `[len: u64 LE][digest: u64 LE]`.
fn summary(state: &[u8]) -> Vec<u8> {
    let mut v = (state.len() as u64).to_le_bytes().to_vec();
    v.extend(digest(state).to_le_bytes());
    v
}

/// The serialized empty `RelatedContracts` (an empty map).
const NO_RELATED: [u8; 8] = [0; 8];

/// The serialized `Vec<UpdateData>` holding one `UpdateData::Delta(delta)`.
fn one_delta(delta: &[u8]) -> Vec<u8> {
    let mut v = 1u64.to_le_bytes().to_vec();
    v.extend(1u32.to_le_bytes()); // UpdateData::Delta
    v.extend(byte_string(delta));
    v
}

/// `[tag][bytes]`: the contract's delta encoding (0 appends, 1 replaces).
fn tagged(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend_from_slice(bytes);
    v
}

/// Checks a result against the expected payload and the streaming counters
/// against the arguments' lengths.
fn check(
    result: &ContractResult,
    instance: &AnyInstance,
    args: &[&[u8]],
    expected: &[u8],
    what: &str,
) {
    assert_eq!(result.contract_error, None, "{what}");
    assert_eq!(result.kind, result.entry.result_kind(), "{what}");
    assert!(
        result.payload == expected,
        "{what}: payload differs from the model"
    );
    let stats = instance.stats();
    let bytes: u64 = args.iter().map(|a| a.len() as u64).sum();
    let fills: u64 = args
        .iter()
        .map(|a| expected_fills(a.len() as u64, CHUNK))
        .sum();
    assert_eq!(stats.bytes_streamed, bytes, "{what}");
    assert_eq!(stats.fills, fills, "{what}");
    assert_eq!(stats.streams, args.len() as u64, "{what}");
}

/// The model's arguments of `entry` for `state`, and the payload the
/// contract must return.
fn model(entry: Entry, state: &[u8]) -> (Vec<Vec<u8>>, Vec<u8>) {
    let half = state.len() / 2;
    match entry {
        Entry::Validate => {
            // At most `len` bytes, and the byte 0xA5 is forbidden.
            let mut params = (state.len() as u64).to_le_bytes().to_vec();
            params.push(0xA5);
            let valid = !state.contains(&0xA5);
            let verdict = if valid { 0u32 } else { 1 };
            (
                vec![params, state.to_vec(), NO_RELATED.to_vec()],
                ok(&verdict.to_le_bytes()),
            )
        }
        Entry::Summarize => (
            vec![vec![], state.to_vec()],
            ok(&byte_string(&summary(state))),
        ),
        Entry::Delta => (
            // A peer that holds the first half.
            vec![vec![], state.to_vec(), summary(&state[..half])],
            ok(&byte_string(&tagged(0, &state[half..]))),
        ),
        Entry::Update => {
            let appended = b"appended by update_state";
            let mut new_state = state.to_vec();
            new_state.extend_from_slice(appended);
            let mut expected = vec![1u8]; // Some(new_state)
            expected.extend(byte_string(&new_state));
            expected.extend(0u64.to_le_bytes()); // no related contracts
            (
                vec![vec![], state.to_vec(), one_delta(&tagged(0, appended))],
                ok(&expected),
            )
        }
    }
}

/// Runs `entry` on a fresh instance of the contract with the model's
/// arguments for `state`, checks the payload against the model, and returns
/// it.
fn run_entry(engine: EngineKind, entry: Entry, state: &[u8]) -> Result<Vec<u8>> {
    let mut c = contract(engine, FREENET_LOG, LegacyPolicy::Refuse)?;
    assert_eq!(c.protocol(), Protocol::Streaming);
    let what = format!("{engine} {entry} on {} bytes", state.len());
    let (args, expected) = model(entry, state);
    let sources = args.iter().map(|a| source(a)).collect();
    let result = c.call(entry, sources)?;
    let arg_slices: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    check(&result, c.instance(), &arg_slices, &expected, &what);
    Ok(result.payload)
}

/// The real freenet-stdlib contract, linked for async calls, gets its
/// state from a tokio reader that hands it out 4 KiB at a time, 1 ms
/// apart, the other arguments from memory: every entry point returns the
/// model's payload, as the sync call of the same instance does. A legacy
/// contract refuses async calls.
#[apply(engines)]
fn real_contract_entry_points_take_an_async_state(#[case] engine: EngineKind) -> Result<()> {
    use refill::freenet::FreenetHost;
    use refill::{AsyncSource, AsyncStream};
    use refill_testkit::async_io::PacedReader;

    let module = AnyEngine::new(engine)?.compile(FREENET_LOG)?;
    let host = FreenetHost::new().with_async_calls();
    let linked = ContractModule::new(&module, &host, LegacyPolicy::Refuse)?;
    let mut c = linked.instantiate(&InstanceConfig::new().with_chunk_size(CHUNK))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let len = (100 << 10) + 3;
    let state = generated(5, len);
    for entry in [
        Entry::Validate,
        Entry::Summarize,
        Entry::Delta,
        Entry::Update,
    ] {
        let (args, expected) = model(entry, &state);
        let streams: Vec<AsyncStream> = args
            .iter()
            .enumerate()
            .map(|(i, arg)| match i {
                1 => AsyncSource::new(
                    PacedReader::new(5, len as u64, 4096).with_delay(Duration::from_millis(1)),
                    len as u64,
                )
                .into(),
                _ => AsyncStream::Source(source(arg)),
            })
            .collect();
        let by_async = runtime.block_on(c.call_async(entry, streams))?;
        assert!(
            by_async.payload == expected,
            "{engine} {entry}: async payload differs"
        );
        let by_sync = c.call(entry, args.iter().map(|a| source(a)).collect())?;
        assert!(by_sync.payload == by_async.payload, "{engine} {entry}");
    }

    let legacy = AnyEngine::new(engine)?.compile(&wat(LEGACY_CONTRACT))?;
    let mut old = ContractModule::new(&legacy, &host, LegacyPolicy::Serve)?
        .instantiate(&InstanceConfig::new())?;
    let e = runtime
        .block_on(old.call_async(
            Entry::Summarize,
            vec![
                AsyncStream::Source(source(b"")),
                AsyncStream::Source(source(b"state")),
            ],
        ))
        .unwrap_err();
    assert_eq!(
        e.kind(),
        FreenetKind::Refill(ErrorKind::Unsupported),
        "{engine}: {e}"
    );
    Ok(())
}

/// Every entry point of the real freenet-stdlib contract returns, for every
/// state size, exactly the payload the host's model of the contract predicts,
/// with every argument streamed (one refill per chunk after the first).
#[apply(engines)]
fn real_contract_entry_points_match_the_model(
    #[case] engine: EngineKind,
    #[values(Entry::Validate, Entry::Update, Entry::Summarize, Entry::Delta)] entry: Entry,
    #[values(0, 1, 2, 3, 4)] size: usize,
) -> Result<()> {
    let state = generated(u64::from(entry as u8) * 31 + size as u64, STATE_SIZES[size]);
    run_entry(engine, entry, &state)?;
    Ok(())
}

/// The payloads of every entry point are byte-identical on every compiled
/// engine.
#[test]
fn real_contract_payloads_are_identical_across_engines() -> Result<()> {
    let state = generated(99, (64 << 10) + 5);
    for entry in Entry::ALL {
        let payloads: Vec<(EngineKind, Vec<u8>)> = EngineKind::compiled()
            .map(|engine| Ok((engine, run_entry(engine, entry, &state)?)))
            .collect::<Result<_>>()?;
        for (engine, payload) in &payloads[1..] {
            assert!(
                *payload == payloads[0].1,
                "{entry}: {engine} differs from {}",
                payloads[0].0
            );
        }
    }
    Ok(())
}

/// The contract's own verdicts and errors come back as such: an invalid
/// state is `Invalid`, a broken delta or bad parameters are the contract's
/// `ContractError`, and a summary of a state that is not a prefix gives the
/// whole state as delta. One instance serves every call.
#[apply(engines)]
fn real_contract_verdicts_and_errors(#[case] engine: EngineKind) -> Result<()> {
    let mut c = contract(engine, FREENET_LOG, LegacyPolicy::Serve)?;
    let state = generated(5, 100_000);

    // Too long for max_len = 10.
    let r = c.validate_state(
        source(&10u64.to_le_bytes()),
        source(&state),
        source(&NO_RELATED),
    )?;
    assert_eq!(
        r.value(),
        Some(Value::Validate(Validity::Invalid)),
        "{engine}"
    );

    // Parameters of 3 bytes: ContractError::Deser.
    let r = c.validate_state(source(&[1, 2, 3]), source(&state), source(&NO_RELATED))?;
    assert!(r.payload == contract_err(0, Some("parameters must be 0, 8 or 9 bytes, got 3")));
    assert_eq!(
        r.contract_error.as_deref(),
        Some("de/serialization error: parameters must be 0, 8 or 9 bytes, got 3")
    );
    let e = r.into_ok().unwrap_err();
    assert_eq!(e.kind(), FreenetKind::ContractError);

    // A delta that is neither an append nor a replace.
    let r = c.update_state(source(&[]), source(&state), source(&one_delta(&[7, 1])))?;
    assert!(r.payload == contract_err(4, None), "{engine}");

    // A summary of another state: the delta replaces everything.
    let other = summary(b"another state");
    let r = c.get_state_delta(source(&[]), source(&state), source(&other))?;
    assert_eq!(
        r.value(),
        Some(Value::Delta(&tagged(1, &state))),
        "{engine}"
    );

    // Garbage `related`: freenet-stdlib answers with a `validate_delta`
    // record holding its Deser error; that is the contract's error, not a
    // wrong kind.
    let r = c.validate_state(source(&[]), source(&state), source(&[1, 2, 3]))?;
    assert_eq!(r.kind, ResultKind::ValidateDelta, "{engine}");
    assert!(
        r.contract_error
            .as_deref()
            .is_some_and(|m| m.starts_with("de/serialization error")),
        "{engine}: {:?}",
        r.contract_error
    );
    Ok(())
}

/// A contract whose memory limit is smaller than the state it collects
/// fails with `MemoryLimitExceeded`, and reports nothing else.
#[apply(engines)]
fn real_contract_respects_the_memory_limit(#[case] engine: EngineKind) -> Result<()> {
    let limits = refill::Limits::default().with_max_memory_bytes(4 << 20);
    let module = AnyEngine::new(engine)?.compile(FREENET_LOG)?;
    let config = InstanceConfig::new().with_limits(limits);
    let mut c = Contract::instantiate(&module, &config, LegacyPolicy::Refuse)?;
    let big = generated(1, 8 << 20);
    let e = c.summarize_state(source(&[]), source(&big)).unwrap_err();
    assert_eq!(
        e.kind(),
        FreenetKind::Refill(ErrorKind::MemoryLimitExceeded),
        "{engine}: {e}"
    );
    Ok(())
}

/// A pre-streaming contract: a bump allocator for `__frnt__initiate_buffer`,
/// no import from `freenet_contract_io`, and a `summarize_state` that reads
/// the whole state from its buffer (`last_write` bytes from `start`) and
/// returns `Ok(StateSummary([len: u64][byte sum: u64]))`.
const LEGACY_CONTRACT: &str = r#"
(module
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 4096))
  (func (export "__frnt_set_id") (param i64))
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64)
    (local $desc i32) (local $end i32)
    (local.set $desc (global.get $next))
    (local.set $end (i32.add (i32.add (local.get $desc) (i32.const 40)) (local.get $cap)))
    (if (i32.gt_u (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.const 1)
        (i32.div_u (i32.sub (local.get $end) (i32.mul (memory.size) (i32.const 65536)))
                   (i32.const 65536)))))))
    (i64.store (local.get $desc) (i64.extend_i32_u (i32.add (local.get $desc) (i32.const 40))))
    (i32.store offset=8 (local.get $desc) (local.get $cap))
    (i64.store offset=16 (local.get $desc) (i64.extend_i32_u (i32.add (local.get $desc) (i32.const 32))))
    (i64.store offset=24 (local.get $desc) (i64.extend_i32_u (i32.add (local.get $desc) (i32.const 36))))
    (global.set $next (i32.and (i32.add (local.get $end) (i32.const 7)) (i32.const -8)))
    (i64.extend_i32_u (local.get $desc)))
  (func (export "summarize_state") (param $params i64) (param $state i64) (result i64)
    (local $at i32) (local $end i32) (local $len i32) (local $sum i64)
    (local.set $at (i32.wrap_i64 (i64.load (i32.wrap_i64 (local.get $state)))))
    (local.set $len (i32.load (i32.wrap_i64 (i64.load offset=24 (i32.wrap_i64 (local.get $state))))))
    (local.set $end (i32.add (local.get $at) (local.get $len)))
    (block $done (loop $bytes
      (br_if $done (i32.ge_u (local.get $at) (local.get $end)))
      (local.set $sum (i64.add (local.get $sum) (i64.load8_u (local.get $at))))
      (local.set $at (i32.add (local.get $at) (i32.const 1)))
      (br $bytes)))
    ;; payload at 64: Ok tag, byte string of 16 bytes: [len][sum]
    (i32.store (i32.const 64) (i32.const 0))
    (i64.store (i32.const 68) (i64.const 16))
    (i64.store (i32.const 76) (i64.extend_i32_u (local.get $len)))
    (i64.store (i32.const 84) (local.get $sum))
    ;; record at 128: ptr 64, kind 3 (summarize_state), size 28
    (i64.store (i32.const 128) (i64.const 64))
    (i32.store (i32.const 136) (i32.const 3))
    (i32.store (i32.const 140) (i32.const 28))
    (i64.const 128)))
"#;

/// A contract built before the streaming ABI is detected by its imports and
/// served one-shot, as freenet's host serves it: each argument whole, no
/// header, no refills; its memory grows with the state. Under
/// `LegacyPolicy::Refuse` it is refused with `LegacyContract`.
#[apply(engines)]
fn legacy_contracts_are_served_one_shot_or_refused(#[case] engine: EngineKind) -> Result<()> {
    let wasm = wat(LEGACY_CONTRACT);
    let mut c = contract(engine, &wasm, LegacyPolicy::Serve)?;
    assert_eq!(c.protocol(), Protocol::OneShot);
    let state = generated(8, (1 << 20) + 3);
    let r = c
        .summarize_state(source(b"params"), source(&state))?
        .into_ok()?;
    let sum: u64 = state.iter().map(|&b| u64::from(b)).sum();
    let mut expected = (state.len() as u64).to_le_bytes().to_vec();
    expected.extend(sum.to_le_bytes());
    assert!(r.payload == ok(&byte_string(&expected)), "{engine}");
    let stats = c.instance().stats();
    assert_eq!(stats.fills, 0, "{engine}");
    assert_eq!(stats.bytes_streamed, state.len() as u64 + 6, "{engine}");
    assert!(c.instance().memory_size() > state.len() as u64, "{engine}");

    let refused = contract(engine, &wasm, LegacyPolicy::Refuse).unwrap_err();
    assert_eq!(refused.kind(), FreenetKind::LegacyContract, "{engine}");
    Ok(())
}

/// A module that pretends to be a contract: the streaming import, two
/// pages of memory, a bump allocator, and a `summarize_state` whose body is `body` (WAT
/// instructions leaving an `i64`), with `data` (address, bytes) placed in
/// memory before it runs.
fn fake_contract(summarize: &str, data: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let segments: String = data
        .iter()
        .map(|(at, bytes)| {
            let escaped: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
            format!("(data (i32.const {at}) \"{escaped}\")\n")
        })
        .collect();
    wat(&format!(
        r#"(module
  (import "freenet_contract_io" "__frnt__fill_buffer" (func (param i64 i64) (result i32)))
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 4096))
  (func (export "__frnt_set_id") (param i64))
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64)
    (local $desc i32)
    (local.set $desc (global.get $next))
    (i64.store (local.get $desc) (i64.extend_i32_u (i32.add (local.get $desc) (i32.const 40))))
    (i32.store offset=8 (local.get $desc) (local.get $cap))
    (i64.store offset=16 (local.get $desc) (i64.extend_i32_u (i32.add (local.get $desc) (i32.const 32))))
    (i64.store offset=24 (local.get $desc) (i64.extend_i32_u (i32.add (local.get $desc) (i32.const 36))))
    (global.set $next (i32.add (i32.add (local.get $desc) (i32.const 48)) (local.get $cap)))
    (i64.extend_i32_u (local.get $desc)))
  {summarize}
  {segments})"#
    ))
}

/// A `summarize_state (i64, i64) -> i64` returning `ret`.
fn summarize_returning(ret: i64) -> String {
    format!(r#"(func (export "summarize_state") (param i64 i64) (result i64) (i64.const {ret}))"#)
}

/// A record at 256 pointing at `payload` placed at 512, of kind `kind`.
fn record_at_256(kind: i32, payload: &[u8]) -> Vec<(u32, Vec<u8>)> {
    let record = refill::freenet::ResultRecord {
        ptr: 512,
        kind: ResultKind::from_code(kind).unwrap_or(ResultKind::ValidateState),
        size: payload.len() as u32,
    };
    let mut record = record.encode().to_vec();
    record[8..12].copy_from_slice(&kind.to_le_bytes());
    vec![(256, record), (512, payload.to_vec())]
}

/// Modules that are not freenet contracts, or return a result no contract
/// can: each is a typed error with a one-line message, never a panic, and
/// the same kind on every engine.
#[apply(engines)]
fn not_a_contract_is_a_one_line_error(#[case] engine: EngineKind) -> Result<()> {
    let summary_ok = ok(&byte_string(&[1, 2, 3]));
    let far_record = {
        let r = refill::freenet::ResultRecord {
            ptr: 130_000,
            kind: ResultKind::SummarizeState,
            size: 10_000,
        };
        vec![(256, r.encode().to_vec())]
    };
    let cases: Vec<(&str, Vec<u8>, FreenetKind)> = vec![
        (
            "no entry point",
            refill_fixtures::DIGEST.wasm.to_vec(),
            FreenetKind::Refill(ErrorKind::MissingExport),
        ),
        (
            "wrong signature",
            fake_contract(
                r#"(func (export "summarize_state") (param i32) (result i32) (i32.const 0))"#,
                &[],
            ),
            FreenetKind::Refill(ErrorKind::SignatureMismatch),
        ),
        (
            "record pointer outside memory",
            fake_contract(&summarize_returning(0x7fff_0000), &[]),
            FreenetKind::Refill(ErrorKind::ResultOutOfBounds),
        ),
        (
            "negative record pointer",
            fake_contract(&summarize_returning(-8), &[]),
            FreenetKind::Refill(ErrorKind::ResultOutOfBounds),
        ),
        (
            "record straddling the end of memory",
            fake_contract(&summarize_returning(131_072 - 8), &[]),
            FreenetKind::Refill(ErrorKind::ResultOutOfBounds),
        ),
        (
            "garbage record kind",
            fake_contract(&summarize_returning(256), &record_at_256(77, &summary_ok)),
            FreenetKind::InvalidResult,
        ),
        (
            "payload outside memory",
            fake_contract(&summarize_returning(256), &far_record),
            FreenetKind::Refill(ErrorKind::ResultOutOfBounds),
        ),
        (
            "wrong kind",
            fake_contract(&summarize_returning(256), &record_at_256(0, &ok(&[0; 4]))),
            FreenetKind::InvalidResult,
        ),
        (
            "garbage payload",
            fake_contract(&summarize_returning(256), &record_at_256(3, &[7, 0, 0, 0])),
            FreenetKind::InvalidResult,
        ),
        (
            "trap",
            fake_contract(
                r#"(func (export "summarize_state") (param i64 i64) (result i64) unreachable)"#,
                &[],
            ),
            FreenetKind::Refill(ErrorKind::Trap),
        ),
    ];
    for (what, wasm, expected) in cases {
        let mut c = contract(engine, &wasm, LegacyPolicy::Refuse)?;
        let e = c
            .summarize_state(source(b""), source(&generated(3, 70_000)))
            .unwrap_err();
        assert_eq!(e.kind(), expected, "{engine}, {what}: {e}");
        assert!(!e.to_string().contains('\n'), "{engine}, {what}: {e}");
        // Nothing of the failed call is left open.
        assert_eq!(c.instance().stats().streams, 2, "{engine}, {what}");
    }
    // The well-formed record of a fake contract is accepted as it is.
    let wasm = fake_contract(&summarize_returning(256), &record_at_256(3, &summary_ok));
    let mut c = contract(engine, &wasm, LegacyPolicy::Refuse)?;
    let r = c.summarize_state(source(b""), source(b"state"))?;
    assert_eq!(r.value(), Some(Value::Summary(&[1, 2, 3])), "{engine}");
    Ok(())
}
