//! The imports a freenet node serves, on every engine: exactly the set
//! freenet-stdlib declares, with its types; the contract imports (log,
//! clock, random bytes) served to a real freenet-stdlib contract and to a
//! legacy one; and every import refusing hostile pointers and lengths with
//! memory untouched (a trap for the contract imports, the documented return
//! code for the delegate imports).

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Timelike, Utc};
use refill::freenet::host::{
    FixedClock, MemoryContractStates, MemoryDelegates, MemoryLog, RandomSource, UtcTime,
    encode_datetime,
};
use refill::freenet::{
    CodeHash, ContractModule, DelegateKey, Entry, FreenetHost, HostLimits, LegacyPolicy, Protocol,
    Result as FreenetResult,
};
use refill::{
    AnyEngine, AnyInstance, BytesSource, Engine, EngineKind, ErrorKind, ImportType, Instance,
    InstanceConfig, InstanceExt, IntoBoxedSource, LinkedModule, Module, Result,
};
use refill_conformance::link;
use refill_fixtures::stdlib_facts::DECLARED_HOST_IMPORTS;
use refill_fixtures::{FREENET_LOG, FREENET_STAMP, FREENET_VAULT};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::{kind_of, wat};

/// The clock every case fixes: 2026-12-01T12:00:00.25Z.
const NOW: UtcTime = UtcTime {
    unix_secs: 1_796_126_400,
    nanos: 250_000_000,
};

/// The seed of every case's random bytes.
const SEED: u64 = 0x5eed;

/// A host with the fixed clock, the seeded randomness and a log to read.
fn host() -> (FreenetHost, MemoryLog) {
    let log = MemoryLog::new();
    let host = FreenetHost::new()
        .with_clock(FixedClock(NOW))
        .with_random(RandomSource::from_seed(SEED))
        .with_log(log.clone());
    (host, log)
}

/// The first `n` random bytes of the seeded stream, after `skip`.
fn seeded(skip: usize, n: usize) -> Vec<u8> {
    let mut bytes = vec![0; skip + n];
    RandomSource::from_seed(SEED).fill(&mut bytes).unwrap();
    bytes.split_off(skip)
}

/// refill serves exactly the imports freenet-stdlib 0.12.1 declares
/// (`DECLARED_HOST_IMPORTS`): 17 of 17, none missing, and beside them only
/// refill's own output import (`refill_io`, which no freenet guest
/// imports).
#[test]
fn the_host_serves_every_import_freenet_stdlib_declares() {
    let mut served: BTreeSet<(String, String)> = FreenetHost::new()
        .host_functions()
        .iter()
        .map(|f| (f.module().to_owned(), f.name().to_owned()))
        .collect();
    let refills_own = (
        refill::abi::OUTPUT_MODULE.to_owned(),
        refill::abi::DRAIN_BUFFER.to_owned(),
    );
    assert!(
        served.remove(&refills_own),
        "the output import is not served"
    );
    let declared: BTreeSet<(String, String)> = DECLARED_HOST_IMPORTS
        .iter()
        .map(|(module, name)| ((*module).to_owned(), (*name).to_owned()))
        .collect();
    assert_eq!(served, declared);
    assert_eq!(served.len(), 17);
}

/// Every served import links and instantiates on every engine with its
/// type: a module importing all of them at once instantiates.
#[apply(engines)]
fn every_served_import_binds_on_every_engine(#[case] engine: EngineKind) -> Result<()> {
    let functions = FreenetHost::new().host_functions();
    let mut imports = String::new();
    for f in functions.iter() {
        let list = |types: &[refill::ValType]| {
            types.iter().map(|t| t.name()).collect::<Vec<_>>().join(" ")
        };
        imports.push_str(&format!(
            "(import \"{}\" \"{}\" (func (param {}) (result {})))\n",
            f.module(),
            f.name(),
            list(f.ty().params()),
            list(f.ty().results())
        ));
    }
    let module = wat(&format!(
        "(module {imports} (memory (export \"memory\") 1)
          (func (export \"__frnt__initiate_buffer\") (param i32) (result i64) (i64.const 0)))"
    ));
    let linked = link(engine, &module, &functions)?;
    assert_eq!(
        linked.instantiate(&InstanceConfig::new())?.memory_size(),
        65_536
    );
    Ok(())
}

/// The real guests, built with freenet-stdlib from crates.io, import only
/// what refill serves, each with the type refill serves it with; together
/// they import every one of the 17.
#[apply(engines)]
fn the_stdlib_guests_import_what_the_host_serves(#[case] engine: EngineKind) -> Result<()> {
    let functions = FreenetHost::new().host_functions();
    let mut seen = BTreeSet::new();
    for wasm in [FREENET_LOG, FREENET_STAMP, FREENET_VAULT] {
        for import in AnyEngine::new(engine)?.compile(wasm)?.imports() {
            let served = functions.get(&import.module, &import.name);
            let served = served.unwrap_or_else(|| panic!("{engine}: {import} is not served"));
            assert_eq!(
                import.ty,
                ImportType::Func(served.ty().clone()),
                "{engine}: {import}"
            );
            seen.insert((import.module, import.name));
        }
    }
    assert_eq!(seen.len(), 17, "{engine}");
    Ok(())
}

/// The `freenet_stamp` contract, that logs, reads the clock and draws
/// random bytes (freenet-stdlib 0.12, unmodified), summarizes a state into
/// exactly what the fixed clock, the seeded randomness and the state make,
/// and its log line reaches the host's sink.
#[apply(engines)]
fn a_contract_logs_reads_the_clock_and_draws_randomness(
    #[case] engine: EngineKind,
) -> FreenetResult<()> {
    let (host, log) = host();
    let module = AnyEngine::new(engine)?.compile(FREENET_STAMP)?;
    let mut contract = ContractModule::new(&module, &host, LegacyPolicy::Refuse)?
        .instantiate(&InstanceConfig::new())?;
    let state = refill_testkit::generated(4, 70_000);
    let result = contract
        .summarize_state(
            BytesSource::new(vec![]).boxed(),
            BytesSource::new(state.clone()).boxed(),
        )?
        .into_ok()?;

    let when = DateTime::<Utc>::from_timestamp(NOW.unix_secs, NOW.nanos).unwrap();
    let mut summary = when.year().to_le_bytes().to_vec();
    summary.extend(when.ordinal().to_le_bytes());
    summary.extend(when.weekday().num_days_from_monday().to_le_bytes());
    summary.extend(when.num_seconds_from_midnight().to_le_bytes());
    summary.extend(when.nanosecond().to_le_bytes());
    summary.extend(NOW.unix_secs.to_le_bytes());
    summary.extend(seeded(0, 16));
    summary.extend((state.len() as u64).to_le_bytes());
    summary.extend(refill_testkit::digest(&state).to_le_bytes());
    let mut expected = 0u32.to_le_bytes().to_vec();
    expected.extend((summary.len() as u64).to_le_bytes());
    expected.extend(&summary);
    assert!(result.payload == expected, "{engine}: the summary differs");
    let id = contract.instance().instance_id();
    assert_eq!(
        log.lines(),
        [(id, format!("stamp: summarize {} bytes", state.len()))],
        "{engine}"
    );
    Ok(())
}

/// `update_state` of the stamp contract appends one entry per delta, each
/// with the clock and the next 8 random bytes; payloads are identical on
/// every engine.
#[test]
fn stamp_updates_are_identical_on_every_engine() -> FreenetResult<()> {
    let deltas: [&[u8]; 2] = [b"first delta", b"second"];
    let mut updates = (deltas.len() as u64).to_le_bytes().to_vec();
    for d in deltas {
        updates.extend(1u32.to_le_bytes()); // UpdateData::Delta
        updates.extend((d.len() as u64).to_le_bytes());
        updates.extend(d);
    }
    let state = b"a stamped log".to_vec();
    let mut new_state = state.clone();
    for (i, d) in deltas.iter().enumerate() {
        new_state.extend(NOW.unix_secs.to_le_bytes());
        new_state.extend(NOW.nanos.to_le_bytes());
        new_state.extend(seeded(8 * i, 8));
        new_state.extend((d.len() as u32).to_le_bytes());
        new_state.extend(*d);
    }
    let mut expected = 0u32.to_le_bytes().to_vec();
    expected.push(1); // Some(new state)
    expected.extend((new_state.len() as u64).to_le_bytes());
    expected.extend(&new_state);
    expected.extend(0u64.to_le_bytes()); // no related contracts
    for engine in EngineKind::compiled() {
        let (host, log) = host();
        let module = AnyEngine::new(engine)?.compile(FREENET_STAMP)?;
        let mut contract = ContractModule::new(&module, &host, LegacyPolicy::Refuse)?
            .instantiate(&InstanceConfig::new())?;
        let sources = [&[][..], &state, &updates]
            .into_iter()
            .map(|a| BytesSource::new(a.to_vec()).boxed())
            .collect();
        let payload = contract.call(Entry::Update, sources)?.into_ok()?.payload;
        assert!(payload == expected, "{engine}: update payload differs");
        assert_eq!(log.lines().len(), 1, "{engine}");
        assert_eq!(log.lines()[0].1, "stamp: update +2 entries", "{engine}");
    }
    Ok(())
}

/// A contract built before the streaming ABI that logs (it imports
/// `freenet_log` but nothing from `freenet_contract_io`) is served one-shot:
/// it reads its whole argument in place, logs it, and its result is read
/// back as any contract's.
#[apply(engines)]
fn a_legacy_contract_that_logs_runs(#[case] engine: EngineKind) -> FreenetResult<()> {
    let (host, log) = host();
    let module = AnyEngine::new(engine)?.compile(&wat(LEGACY_LOGGER))?;
    let contract = ContractModule::new(&module, &host, LegacyPolicy::Serve)?;
    assert_eq!(contract.protocol(), Protocol::OneShot);
    let mut contract = contract.instantiate(&InstanceConfig::new())?;
    let state = b"a state from before streaming".to_vec();
    let result = contract
        .summarize_state(
            BytesSource::new(vec![]).boxed(),
            BytesSource::new(state.clone()).boxed(),
        )?
        .into_ok()?;
    let mut expected = 0u32.to_le_bytes().to_vec();
    expected.extend(8u64.to_le_bytes());
    expected.extend((state.len() as u64).to_le_bytes());
    assert_eq!(result.payload, expected, "{engine}");
    let id = contract.instance().instance_id();
    assert_eq!(
        log.lines(),
        [(id, String::from_utf8(state).unwrap())],
        "{engine}"
    );
    assert_eq!(contract.instance().stats().fills, 0, "{engine}: no refills");
    Ok(())
}

/// A contract from before the streaming ABI: a bump allocator for
/// `__frnt__initiate_buffer`, and `summarize_state` that logs the state it
/// got whole and returns `Ok([state length: u64])`.
const LEGACY_LOGGER: &str = r#"(module
  (import "freenet_log" "__frnt__logger__info" (func $log (param i64 i64 i32)))
  (memory (export "memory") 2)
  (global $next (mut i32) (i32.const 1024))
  (global $id (mut i64) (i64.const -1))
  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
  (func (export "__frnt__initiate_buffer") (param $cap i32) (result i64) (local $d i32)
    (local.set $d (global.get $next))
    (i64.store (local.get $d) (i64.extend_i32_u (i32.add (local.get $d) (i32.const 40))))
    (i32.store offset=8 (local.get $d) (local.get $cap))
    (i64.store offset=16 (local.get $d) (i64.extend_i32_u (i32.add (local.get $d) (i32.const 32))))
    (i64.store offset=24 (local.get $d) (i64.extend_i32_u (i32.add (local.get $d) (i32.const 36))))
    (global.set $next (i32.and (i32.add (i32.add (local.get $d) (i32.add (local.get $cap) (i32.const 40))) (i32.const 7)) (i32.const -8)))
    (i64.extend_i32_u (local.get $d)))
  (func (export "summarize_state") (param $p i64) (param $s i64) (result i64) (local $d i32) (local $len i32)
    (local.set $d (i32.wrap_i64 (local.get $s)))
    (local.set $len (i32.load (i32.wrap_i64 (i64.load offset=24 (local.get $d)))))
    (call $log (global.get $id) (i64.load (local.get $d)) (local.get $len))
    (i32.store (i32.const 256) (i32.const 0))
    (i64.store (i32.const 260) (i64.const 8))
    (i64.store (i32.const 268) (i64.extend_i32_u (local.get $len)))
    (i64.store (i32.const 512) (i64.const 256))
    (i32.store (i32.const 520) (i32.const 3))
    (i32.store (i32.const 524) (i32.const 20))
    (i64.const 512)))"#;

/// A guest that calls each contract import with the arguments it is given.
const CONTRACT_PROBE: &str = r#"(module
  (import "freenet_log" "__frnt__logger__info" (func $log (param i64 i64 i32)))
  (import "freenet_time" "__frnt__time__utc_now" (func $now (param i64 i64)))
  (import "freenet_rand" "__frnt__rand__rand_bytes" (func $rand (param i64 i64 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from the guest")
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
  (func (export "log") (param i64 i64 i64) (result i64)
    (call $log (local.get 0) (local.get 1) (i32.wrap_i64 (local.get 2))) (i64.const 0))
  (func (export "now") (param i64 i64) (result i64)
    (call $now (local.get 0) (local.get 1)) (i64.const 0))
  (func (export "rand") (param i64 i64 i64) (result i64)
    (call $rand (local.get 0) (local.get 1) (i32.wrap_i64 (local.get 2))) (i64.const 0)))"#;

/// All of guest memory.
fn memory(instance: &AnyInstance) -> Vec<u8> {
    instance.read_memory(0, instance.memory_size()).unwrap()
}

/// The contract imports serve a good call (the instance's own id or -1,
/// freenet-stdlib's id before `__frnt_set_id`), and trap on a forged id,
/// on a pointer or length outside guest memory and on a request past the
/// host's caps, with the right kind and memory untouched; a line past the
/// length cap is truncated, and past the log budget dropped and counted.
#[apply(engines)]
fn contract_imports_refuse_hostile_arguments(#[case] engine: EngineKind) -> Result<()> {
    let (host, log) = host();
    let mut limits = HostLimits::default();
    limits.max_log_line = 8;
    limits.max_log_bytes = 20;
    limits.max_random_bytes = 1024;
    let imports = host.with_limits(limits).imports();
    let mut instance = link(engine, &wat(CONTRACT_PROBE), &imports.functions)?
        .instantiate(&InstanceConfig::new())?;
    let id = instance.instance_id();

    instance.call("now", &[id, 100])?;
    assert_eq!(
        instance.read_memory(100, 12)?,
        encode_datetime(NOW).unwrap(),
        "{engine}"
    );
    instance.call("rand", &[-1, 200, 32])?;
    assert_eq!(instance.read_memory(200, 32)?, seeded(0, 32), "{engine}");
    instance.call("log", &[id, 16, 5])?;
    instance.call("log", &[-1, 16, 20])?;
    instance.call("log", &[id, 16, 8])?;
    let lines: Vec<String> = log.lines().into_iter().map(|(_, line)| line).collect();
    assert_eq!(
        lines,
        ["hello", "hello fr… (truncated from 20 bytes)"],
        "{engine}: the third line is past the 20-byte budget"
    );
    let dropped = instance.with_state(imports.env, |env| env.dropped_log_lines())?;
    assert_eq!(dropped, 1, "{engine}");

    let size = instance.memory_size() as i64;
    let refused: &[(&str, Vec<i64>, ErrorKind)] = &[
        ("now", vec![id + 1000, 100], ErrorKind::WrongInstanceId),
        ("now", vec![id, -1], ErrorKind::ArgumentOutOfBounds),
        ("now", vec![id, size - 11], ErrorKind::ArgumentOutOfBounds),
        ("now", vec![id, 1 << 32], ErrorKind::ArgumentOutOfBounds),
        (
            "rand",
            vec![id, size - 4, 8],
            ErrorKind::ArgumentOutOfBounds,
        ),
        ("rand", vec![id, -8, 8], ErrorKind::ArgumentOutOfBounds),
        ("rand", vec![id, 0, 2048], ErrorKind::PayloadTooLarge),
        ("rand", vec![id, 0, -1], ErrorKind::PayloadTooLarge),
        ("rand", vec![id + 7, 0, 8], ErrorKind::WrongInstanceId),
        ("log", vec![id, -1, 4], ErrorKind::ArgumentOutOfBounds),
        ("log", vec![id, size - 2, 4], ErrorKind::ArgumentOutOfBounds),
        ("log", vec![id, 0, -1], ErrorKind::ArgumentOutOfBounds),
        ("log", vec![id + 1, 16, 4], ErrorKind::WrongInstanceId),
    ];
    for (export, args, kind) in refused {
        let before = memory(&instance);
        assert_eq!(
            kind_of(instance.call(export, args)),
            *kind,
            "{engine}: {export}{args:?}"
        );
        assert!(
            memory(&instance) == before,
            "{engine}: {export}{args:?} wrote to memory"
        );
    }
    assert_eq!(
        log.lines().len(),
        2,
        "{engine}: refused lines are not logged"
    );
    Ok(())
}

/// A guest that calls each delegate import with the arguments it is
/// given, widened to `i64`, and returns the import's code.
const DELEGATE_PROBE: &str = r#"(module
  (import "freenet_delegate_ctx" "__frnt__delegate__ctx_len" (func $ctx_len (result i32)))
  (import "freenet_delegate_ctx" "__frnt__delegate__ctx_read" (func $ctx_read (param i64 i32) (result i32)))
  (import "freenet_delegate_ctx" "__frnt__delegate__ctx_write" (func $ctx_write (param i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__get_secret_len" (func $get_len (param i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__get_secret" (func $get (param i64 i32 i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__set_secret" (func $set (param i64 i32 i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__has_secret" (func $has (param i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__remove_secret" (func $remove (param i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__list_secrets_len" (func $list_len (param i64 i32) (result i32)))
  (import "freenet_delegate_secrets" "__frnt__delegate__list_secrets" (func $list (param i64 i32 i64 i32) (result i32)))
  (import "freenet_delegate_contracts" "__frnt__delegate__get_contract_state_len" (func $state_len (param i64 i32) (result i64)))
  (import "freenet_delegate_contracts" "__frnt__delegate__get_contract_state" (func $state (param i64 i32 i64 i64) (result i64)))
  (import "freenet_delegate_management" "__frnt__delegate__create_delegate" (func $create (param i64 i64 i64 i64 i64 i64 i64 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "key")
  (data (i32.const 80) "value")
  (data (i32.const 128) "\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11\11")
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
  (func (export "ctx_len") (result i64) (i64.extend_i32_s (call $ctx_len)))
  (func (export "ctx_read") (param i64 i64) (result i64)
    (i64.extend_i32_s (call $ctx_read (local.get 0) (i32.wrap_i64 (local.get 1)))))
  (func (export "ctx_write") (param i64 i64) (result i64)
    (i64.extend_i32_s (call $ctx_write (local.get 0) (i32.wrap_i64 (local.get 1)))))
  (func (export "get_secret_len") (param i64 i64) (result i64)
    (i64.extend_i32_s (call $get_len (local.get 0) (i32.wrap_i64 (local.get 1)))))
  (func (export "get_secret") (param i64 i64 i64 i64) (result i64)
    (i64.extend_i32_s (call $get (local.get 0) (i32.wrap_i64 (local.get 1)) (local.get 2) (i32.wrap_i64 (local.get 3)))))
  (func (export "set_secret") (param i64 i64 i64 i64) (result i64)
    (i64.extend_i32_s (call $set (local.get 0) (i32.wrap_i64 (local.get 1)) (local.get 2) (i32.wrap_i64 (local.get 3)))))
  (func (export "has_secret") (param i64 i64) (result i64)
    (i64.extend_i32_s (call $has (local.get 0) (i32.wrap_i64 (local.get 1)))))
  (func (export "remove_secret") (param i64 i64) (result i64)
    (i64.extend_i32_s (call $remove (local.get 0) (i32.wrap_i64 (local.get 1)))))
  (func (export "list_secrets_len") (param i64 i64) (result i64)
    (i64.extend_i32_s (call $list_len (local.get 0) (i32.wrap_i64 (local.get 1)))))
  (func (export "list_secrets") (param i64 i64 i64 i64) (result i64)
    (i64.extend_i32_s (call $list (local.get 0) (i32.wrap_i64 (local.get 1)) (local.get 2) (i32.wrap_i64 (local.get 3)))))
  (func (export "get_contract_state_len") (param i64 i64) (result i64)
    (call $state_len (local.get 0) (i32.wrap_i64 (local.get 1))))
  (func (export "get_contract_state") (param i64 i64 i64 i64) (result i64)
    (call $state (local.get 0) (i32.wrap_i64 (local.get 1)) (local.get 2) (local.get 3)))
  (func (export "create_delegate") (param i64 i64 i64 i64 i64 i64 i64 i64) (result i64)
    (i64.extend_i32_s (call $create (local.get 0) (local.get 1) (local.get 2) (local.get 3)
                                    (local.get 4) (local.get 5) (local.get 6) (local.get 7)))))"#;

/// Where the probe keeps its arguments.
const KEY: i64 = 64;
const VALUE: i64 = 80;
const CONTRACT: i64 = 128;

/// Every delegate import, outside a `process` call, answers -1.
#[apply(engines)]
fn delegate_imports_answer_only_inside_a_call(#[case] engine: EngineKind) -> Result<()> {
    let imports = FreenetHost::new().imports();
    let mut instance = link(engine, &wat(DELEGATE_PROBE), &imports.functions)?
        .instantiate(&InstanceConfig::new())?;
    let calls: &[(&str, &[i64])] = &[
        ("ctx_len", &[]),
        ("ctx_read", &[0, 4]),
        ("ctx_write", &[0, 4]),
        ("get_secret_len", &[KEY, 3]),
        ("get_secret", &[KEY, 3, 0, 8]),
        ("set_secret", &[KEY, 3, VALUE, 5]),
        ("has_secret", &[KEY, 3]),
        ("remove_secret", &[KEY, 3]),
        ("list_secrets_len", &[KEY, 0]),
        ("list_secrets", &[KEY, 0, 0, 8]),
        ("get_contract_state_len", &[CONTRACT, 32]),
        ("get_contract_state", &[CONTRACT, 32, 0, 8]),
        (
            "create_delegate",
            &[KEY, 3, VALUE, 5, CONTRACT, CONTRACT, 200, 240],
        ),
    ];
    let before = memory(&instance);
    for (export, args) in calls {
        assert_eq!(instance.call(export, args)?, -1, "{engine}: {export}");
    }
    assert!(memory(&instance) == before, "{engine}");
    Ok(())
}

/// Inside a call, the delegate imports serve the delegate's context,
/// secrets, contract states and delegate creation, and answer a hostile
/// argument with the documented code, writing nothing: -4 for a negative
/// length or an id that is not 32 bytes, -5 for a context past the cap,
/// -6 for a buffer too small, -9 for any range outside guest memory, -2 for
/// a missing secret, -7 for a contract the host does not hold, -21 and -23
/// for creations past the caps.
#[apply(engines)]
fn delegate_imports_serve_and_refuse_with_their_codes(#[case] engine: EngineKind) -> Result<()> {
    let states = MemoryContractStates::new();
    states.insert([0x11; 32], b"state!".to_vec());
    let delegates = MemoryDelegates::new();
    let mut limits = HostLimits::default();
    limits.max_context = 16;
    limits.max_creations_per_call = 1;
    limits.max_delegate_code = 64;
    let imports = FreenetHost::new()
        .with_contract_states(states)
        .with_delegates(delegates.clone())
        .with_limits(limits)
        .imports();
    let mut instance = link(engine, &wat(DELEGATE_PROBE), &imports.functions)?
        .instantiate(&InstanceConfig::new())?;
    let me = DelegateKey::new(CodeHash::of(b"probe"), b"");
    instance.with_state(imports.env, |env| env.begin_call(me))?;
    let size = instance.memory_size() as i64;
    let mut check = |export: &str, args: &[i64], code: i64| {
        expect_code(&mut instance, engine, export, args, code)
    };

    // Served.
    check("set_secret", &[KEY, 3, VALUE, 5], 0)?;
    check("get_secret_len", &[KEY, 3], 5)?;
    let m = check("get_secret", &[KEY, 3, 300, 5], 5)?;
    assert_eq!(&m[300..305], b"value", "{engine}");
    check("has_secret", &[KEY, 3], 1)?;
    check("has_secret", &[VALUE, 5], 0)?;
    check("list_secrets_len", &[KEY, 0], 7)?;
    let m = check("list_secrets", &[KEY, 0, 400, 7], 7)?;
    assert_eq!(&m[400..407], b"\x03\0\0\0key", "{engine}");
    check("ctx_write", &[VALUE, 5], 0)?;
    check("ctx_len", &[], 5)?;
    let m = check("ctx_read", &[500, 3], 3)?;
    assert_eq!(&m[500..503], b"val", "{engine}");
    check("get_contract_state_len", &[CONTRACT, 32], 6)?;
    let m = check("get_contract_state", &[CONTRACT, 32, 600, 6], 6)?;
    assert_eq!(&m[600..606], b"state!", "{engine}");
    let m = check(
        "create_delegate",
        &[KEY, 3, VALUE, 5, CONTRACT, CONTRACT, 700, 740],
        0,
    )?;
    let child = DelegateKey::new(CodeHash::of(b"key"), b"value");
    assert_eq!(&m[700..732], &child.key, "{engine}");
    assert_eq!(&m[740..772], &child.code_hash.0, "{engine}");
    assert_eq!(delegates.created().len(), 1, "{engine}");
    assert_eq!(delegates.created()[0].parent, me, "{engine}");

    // Refused, memory untouched.
    let far = size - 2;
    let refusals: &[(&str, &[i64], i64)] = &[
        ("ctx_read", &[-1, 4], -9),
        ("ctx_read", &[far, 4], -9),
        ("ctx_read", &[0, -1], -4),
        ("ctx_write", &[far, 4], -9),
        ("ctx_write", &[0, -1], -4),
        ("ctx_write", &[0, 17], -5),
        ("get_secret_len", &[-1, 3], -9),
        ("get_secret_len", &[KEY, -3], -4),
        ("get_secret_len", &[VALUE, 5], -2),
        ("get_secret", &[KEY, 3, far, 5], -9),
        ("get_secret", &[KEY, 3, 300, 4], -6),
        ("get_secret", &[KEY, 3, 300, -1], -4),
        // A negative length is found before a key outside memory.
        ("get_secret", &[far, 3, 300, -1], -4),
        ("set_secret", &[far, 3, VALUE, -5], -4),
        ("set_secret", &[KEY, 3, far, 5], -9),
        ("set_secret", &[far, 3, VALUE, 5], -9),
        ("set_secret", &[KEY, 3, VALUE, -5], -4),
        ("has_secret", &[i64::MAX, 3], -9),
        ("remove_secret", &[far, 3], -9),
        ("list_secrets_len", &[far, 3], -9),
        ("list_secrets", &[KEY, 0, far, 7], -9),
        ("list_secrets", &[KEY, 0, 400, 6], -6),
        ("list_secrets", &[KEY, 0, 400, -1], -4),
        ("get_contract_state_len", &[CONTRACT, 31], -4),
        ("get_contract_state_len", &[far, 32], -9),
        ("get_contract_state_len", &[0, 32], -7),
        ("get_contract_state", &[CONTRACT, 32, far, 6], -9),
        ("get_contract_state", &[CONTRACT, 32, 600, 5], -6),
        ("get_contract_state", &[CONTRACT, 32, 600, -1], -4),
        (
            "create_delegate",
            &[KEY, 3, VALUE, 5, CONTRACT, CONTRACT, far, 740],
            -9,
        ),
        (
            "create_delegate",
            &[KEY, 3, VALUE, 5, CONTRACT, -1, 700, 740],
            -9,
        ),
        (
            "create_delegate",
            &[KEY, -3, VALUE, 5, CONTRACT, CONTRACT, 700, 740],
            -4,
        ),
        (
            "create_delegate",
            &[KEY, 3, VALUE, 5, CONTRACT, CONTRACT, 700, 740],
            -21,
        ),
    ];
    for (export, args, code) in refusals {
        check(export, args, *code)?;
    }
    assert_eq!(
        delegates.created().len(),
        1,
        "{engine}: refused creations register nothing"
    );

    // Over the code cap, in a call of its own (the per-call cap is spent).
    instance.with_state(imports.env, |env| env.begin_call(me))?;
    let mut check = |export: &str, args: &[i64], code: i64| {
        expect_code(&mut instance, engine, export, args, code)
    };
    check(
        "create_delegate",
        &[0, 65, VALUE, 5, CONTRACT, CONTRACT, 700, 740],
        -23,
    )?;
    check("remove_secret", &[KEY, 3], 0)?;
    check("remove_secret", &[KEY, 3], -2)?;
    check("get_secret", &[KEY, 3, 300, 5], -2)?;
    instance.with_state(imports.env, |env| env.end_call())?;
    expect_code(&mut instance, engine, "ctx_len", &[], -1)?;
    Ok(())
}

/// Calls `export` and checks it returns `code`; a refusal (a negative code)
/// must leave guest memory as it was. Guest memory after the call.
fn expect_code(
    instance: &mut AnyInstance,
    engine: EngineKind,
    export: &str,
    args: &[i64],
    code: i64,
) -> Result<Vec<u8>> {
    let before = memory(instance);
    assert_eq!(
        instance.call(export, args)?,
        code,
        "{engine}: {export}{args:?}"
    );
    let after = memory(instance);
    if code < 0 {
        assert!(
            after == before,
            "{engine}: {export}{args:?} wrote to memory"
        );
    }
    Ok(after)
}

/// One host's delegates keep their secrets apart: the key scopes them.
#[test]
fn secrets_are_scoped_by_delegate_key() -> Result<()> {
    let imports = FreenetHost::new().imports();
    let engine = EngineKind::default_kind();
    let linked = link(engine, &wat(DELEGATE_PROBE), &imports.functions)?;
    let mut a = linked.instantiate(&InstanceConfig::new())?;
    let mut b = linked.instantiate(&InstanceConfig::new())?;
    let key = |params: &[u8]| DelegateKey::new(CodeHash::of(b"probe"), params);
    a.with_state(imports.env, |env| env.begin_call(key(b"a")))?;
    b.with_state(imports.env, |env| env.begin_call(key(b"b")))?;
    assert_eq!(a.call("set_secret", &[KEY, 3, VALUE, 5])?, 0);
    assert_eq!(a.call("has_secret", &[KEY, 3])?, 1);
    assert_eq!(
        b.call("has_secret", &[KEY, 3])?,
        0,
        "another delegate's secret"
    );
    Ok(())
}
