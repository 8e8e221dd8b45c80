//! One `Limits` value, honoured by every engine: each limit exceeded is a
//! typed error, and the instance (or a fresh one) works afterwards.

use refill::{
    EngineConfig, EngineKind, ErrorKind, Instance, InstanceConfig, InstanceExt, Limits, Result,
    StreamOptions,
};
use refill_conformance::{generated, generated_digest, instantiate_with};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::{kind_of, wat};

/// A guest with a 1-page memory that grows on request, spins on request,
/// and answers 7 when asked nicely.
const GROWER: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
  (func (export "grow") (param i64) (result i64)
    (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get 0)))))
  (func (export "spin") (result i64) (loop $forever (br $forever)) i64.const 0)
  (func (export "fine") (result i64) i64.const 7))
"#;

fn config(limits: Limits) -> InstanceConfig {
    InstanceConfig::new().with_limits(limits)
}

/// Memory may grow up to the limit; growing past it traps with
/// `MemoryLimitExceeded` (not a silent -1), and the instance still answers.
#[apply(engines)]
fn memory_growth_past_the_limit_is_a_typed_error(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_max_memory_bytes(4 * 65_536);
    let mut instance = instantiate_with(engine, &wat(GROWER), &config(limits))?;
    assert_eq!(
        instance.call("grow", &[3])?,
        1,
        "{engine}: growing to the limit"
    );
    assert_eq!(instance.memory_size(), 4 * 65_536);
    assert_eq!(
        kind_of(instance.call("grow", &[1])),
        ErrorKind::MemoryLimitExceeded,
        "{engine}"
    );
    assert_eq!(instance.memory_size(), 4 * 65_536);
    assert_eq!(instance.call("fine", &[])?, 7);
    Ok(())
}

/// A module whose initial memory is already past the limit does not
/// instantiate: `MemoryLimitExceeded`.
#[apply(engines)]
fn initial_memory_past_the_limit_is_refused(#[case] engine: EngineKind) {
    let big = wat(r#"(module (memory (export "memory") 17)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0))"#);
    let limits = Limits::default().with_max_memory_bytes(16 * 65_536);
    let kind = kind_of(instantiate_with(engine, &big, &config(limits)).map(|_| ()));
    assert_eq!(kind, ErrorKind::MemoryLimitExceeded, "{engine}");
}

/// A guest that loops forever is stopped by its fuel: `CpuBudgetExhausted`;
/// every call gets a fresh budget, so the next call works.
#[apply(engines)]
fn endless_loop_runs_out_of_fuel(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_fuel(Some(1_000_000));
    let mut instance = instantiate_with(engine, &wat(GROWER), &config(limits))?;
    assert_eq!(
        kind_of(instance.call("spin", &[])),
        ErrorKind::CpuBudgetExhausted,
        "{engine}"
    );
    assert_eq!(instance.call("fine", &[])?, 7);
    Ok(())
}

/// A guest that calls the refill import forever (always 0 after the end) is
/// stopped by its fuel too, and the host's state does not grow meanwhile.
#[apply(engines)]
fn endless_refill_loop_runs_out_of_fuel(#[case] engine: EngineKind) -> Result<()> {
    let module = wat(r#"
    (module
      (import "freenet_contract_io" "__frnt__fill_buffer" (func $fill (param i64 i64) (result i32)))
      (memory (export "memory") 2)
      (global $id (mut i64) (i64.const -1))
      ;; descriptor at 0: start=64, capacity=4096, last_read=40, last_write=44
      (data (i32.const 0) "\40\00\00\00\00\00\00\00\00\10\00\00\00\00\00\00\28\00\00\00\00\00\00\00\2c\00\00\00\00\00\00\00")
      (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
      (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
      (func (export "hammer") (param i64) (result i64)
        (loop $again (drop (call $fill (global.get $id) (local.get 0))) (br $again))
        i64.const 0))"#);
    let limits = Limits::default().with_fuel(Some(5_000_000));
    let mut instance = instantiate_with(engine, &module, &config(limits))?;
    let result = instance.call_with_streams("hammer", [generated(0, 10)]);
    assert_eq!(kind_of(result), ErrorKind::CpuBudgetExhausted, "{engine}");
    assert!(
        instance.stats().fills > 1000,
        "{engine}: {} refills",
        instance.stats().fills
    );
    Ok(())
}

/// Real work within its budget is unaffected by metering.
#[apply(engines)]
fn streaming_within_the_budget_is_unaffected(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_fuel(Some(1_000_000_000));
    let fixture = &refill_fixtures::DIGEST;
    let mut instance = instantiate_with(engine, fixture.wasm, &config(limits))?;
    let result = instance.call_with_streams(fixture.export, [generated(4, 1 << 20)])?;
    assert_eq!(result as u64, generated_digest(4, 1 << 20), "{engine}");
    Ok(())
}

/// Asking for fuel from an engine built without metering is `Unsupported`,
/// never a silently unlimited guest.
#[apply(engines)]
fn fuel_without_metering_is_refused(#[case] engine: EngineKind) -> Result<()> {
    let unmetered = refill::AnyEngine::with_config(engine, &EngineConfig::default())?;
    let module = refill::Engine::compile(&unmetered, &wat(GROWER))?;
    let limits = Limits::default().with_fuel(Some(1000));
    let result = refill::Module::instantiate(&module, &config(limits));
    assert_eq!(
        kind_of(result.map(|_| ())),
        ErrorKind::Unsupported,
        "{engine}"
    );
    Ok(())
}

/// A payload over the limit is refused before the guest allocates anything.
#[apply(engines)]
fn payload_over_the_limit_is_refused(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_max_payload_bytes(1000);
    let fixture = &refill_fixtures::DIGEST;
    let mut instance = instantiate_with(engine, fixture.wasm, &config(limits))?;
    let before = instance.memory_size();
    assert_eq!(
        kind_of(instance.open_stream(generated(0, 1001), StreamOptions::new())),
        ErrorKind::PayloadTooLarge
    );
    assert_eq!(instance.memory_size(), before);
    let ok = instance.call_with_streams(fixture.export, [generated(0, 1000)])?;
    assert_eq!(ok as u64, generated_digest(0, 1000), "{engine}");
    Ok(())
}

/// More arguments than the open-stream limit is `TooManyStreams`; the
/// streams already opened are released.
#[apply(engines)]
fn too_many_streams_are_refused(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_max_open_streams(2);
    let fixture = &refill_fixtures::INTERLEAVE;
    let mut instance = instantiate_with(engine, fixture.wasm, &config(limits))?;
    let three = [generated(0, 10), generated(1, 10), generated(2, 10)];
    assert_eq!(
        kind_of(instance.call_with_streams(fixture.export, three)),
        ErrorKind::TooManyStreams
    );
    let digest = refill_fixtures::DIGEST;
    let mut single = instantiate_with(
        engine,
        digest.wasm,
        &config(Limits::default().with_max_open_streams(2)),
    )?;
    assert_eq!(
        single.call_with_streams(digest.export, [generated(5, 99)])? as u64,
        generated_digest(5, 99)
    );
    Ok(())
}

/// A chunk size above the limit is refused at instantiation.
#[apply(engines)]
fn chunk_over_the_limit_is_refused(#[case] engine: EngineKind) {
    let limits = Limits::default().with_max_chunk_size(64 << 10);
    let config = InstanceConfig::new()
        .with_chunk_size(1 << 20)
        .with_limits(limits);
    let result = instantiate_with(engine, refill_fixtures::DIGEST.wasm, &config);
    assert_eq!(
        kind_of(result.map(|_| ())),
        ErrorKind::InvalidChunkSize,
        "{engine}"
    );
}
