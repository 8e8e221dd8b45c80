//! Every resource a guest can take is bounded, identically on every engine:
//! table elements and the numbers of memories and tables, the wasm stack,
//! the wall-clock deadline of every call; nothing of a call leaks across a
//! panic; the defaults bound all of it on an engine built the default way;
//! and the guest's own buffer arithmetic never wraps.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use refill::core::Pooling;
use refill::{
    AnyEngine, Caller, Engine, EngineConfig, EngineKind, ErrorKind, HostFunctions, Instance,
    InstanceConfig, InstanceExt, IntoBoxedSource, Limits, LinkedModule, Module, Result,
    StreamSource,
};
use refill_conformance::{divergence, generated, generated_digest, instantiate_with};
use refill_fixtures::DIGEST;
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::{kind_of, wat};

/// What every guest here exports besides its own functions.
const ABI: &str = r#"(func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
  (func (export "fine") (result i64) i64.const 7)"#;

/// A guest with `tables` funcref tables of `initial` elements each, whose
/// `grow(table, n)` grows one of them by `n`.
fn tables_guest(tables: u32, initial: u32) -> Vec<u8> {
    let mut text = String::from("(module (memory (export \"memory\") 1)\n");
    for _ in 0..tables {
        text.push_str(&format!("(table {initial} funcref)\n"));
    }
    text.push_str("(func (export \"grow\") (param $t i64) (param $n i64) (result i64)\n");
    for t in 0..tables {
        text.push_str(&format!(
            "(if (i64.eq (local.get $t) (i64.const {t})) (then (return (i64.extend_i32_s \
             (table.grow {t} (ref.null func) (i32.wrap_i64 (local.get $n)))))))\n"
        ));
    }
    text.push_str(&format!("(i64.const -2))\n{ABI})"));
    wat(&text)
}

/// A guest with `memories` memories of `pages` pages each (the first
/// exported), whose `grow(memory, n)` grows one of them by `n` pages.
fn memories_guest(memories: u32, pages: u32) -> Vec<u8> {
    let mut text = String::from("(module\n");
    for m in 0..memories {
        let export = if m == 0 { "(export \"memory\")" } else { "" };
        text.push_str(&format!("(memory {export} {pages})\n"));
    }
    text.push_str("(func (export \"grow\") (param $m i64) (param $n i64) (result i64)\n");
    for m in 0..memories {
        text.push_str(&format!(
            "(if (i64.eq (local.get $m) (i64.const {m})) (then (return (i64.extend_i32_s \
             (memory.grow {m} (i32.wrap_i64 (local.get $n)))))))\n"
        ));
    }
    text.push_str(&format!("(i64.const -2))\n{ABI})"));
    wat(&text)
}

/// A guest that recurses without end, loops without end, or answers.
const RUNAWAY: &str = r#"(module
  (memory (export "memory") 1)
  (func $down (param i64) (result i64)
    (i64.add (call $down (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
  (func (export "recurse") (result i64) (call $down (i64.const 0)))
  (func (export "spin") (result i64) (loop $forever (br $forever)) (i64.const 0))
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
  (func (export "fine") (result i64) i64.const 7))"#;

fn config(limits: Limits) -> InstanceConfig {
    InstanceConfig::new().with_limits(limits)
}

/// Tables may grow up to the limit on elements, summed over all tables;
/// growing past it traps with `TableLimitExceeded` (not a silent -1), and
/// the instance still answers.
#[apply(engines)]
fn table_growth_past_the_limit_is_a_typed_error(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_max_table_elements(100);
    let mut instance = instantiate_with(engine, &tables_guest(2, 10), &config(limits))?;
    assert_eq!(
        instance.call("grow", &[0, 40])?,
        10,
        "{engine}: within the limit"
    );
    assert_eq!(instance.call("grow", &[1, 40])?, 10, "{engine}: 100 in all");
    let kind = kind_of(instance.call("grow", &[1, 1]));
    assert_eq!(
        kind,
        ErrorKind::TableLimitExceeded,
        "{engine}: the tables together"
    );
    assert_eq!(
        instance.call("grow", &[0, 0])?,
        50,
        "{engine}: nothing grew"
    );
    assert_eq!(instance.call("fine", &[])?, 7);
    Ok(())
}

/// A module whose tables start past the limit on elements, or that has
/// more tables than allowed, does not instantiate: `TableLimitExceeded`.
#[apply(engines)]
fn tables_past_the_limits_are_refused(#[case] engine: EngineKind) {
    let few_elements = Limits::default().with_max_table_elements(100);
    let kind = kind_of(instantiate_with(
        engine,
        &tables_guest(2, 60),
        &config(few_elements),
    ));
    assert_eq!(
        kind,
        ErrorKind::TableLimitExceeded,
        "{engine}: 120 elements"
    );
    let few_tables = Limits::default().with_max_tables(2);
    let kind = kind_of(instantiate_with(
        engine,
        &tables_guest(3, 1),
        &config(few_tables),
    ));
    assert_eq!(kind, ErrorKind::TableLimitExceeded, "{engine}: 3 tables");
}

/// Memory is limited over all of a guest's memories together: each may
/// grow, but not all of them past the limit (`MemoryLimitExceeded`).
#[apply(engines)]
fn memories_together_count_against_the_memory_limit(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default()
        .with_max_memories(3)
        .with_max_memory_bytes(16 * 65_536);
    let mut instance = instantiate_with(engine, &memories_guest(3, 1), &config(limits))?;
    assert_eq!(instance.call("grow", &[1, 6])?, 1, "{engine}");
    assert_eq!(
        instance.call("grow", &[2, 6])?,
        1,
        "{engine}: 15 pages in all"
    );
    let kind = kind_of(instance.call("grow", &[0, 2]));
    assert_eq!(kind, ErrorKind::MemoryLimitExceeded, "{engine}");
    assert_eq!(instance.call("fine", &[])?, 7);
    Ok(())
}

/// The attacker's multi-memory guest (two extra memories grown by 3000
/// pages each, 375 MiB) is refused on every engine with the same kind,
/// under the defaults (one memory) and under a limit on memory alone.
#[apply(engines)]
fn the_multi_memory_guest_is_refused_everywhere(#[case] engine: EngineKind) -> Result<()> {
    let guest = memories_guest(3, 1);
    let kind = kind_of(instantiate_with(engine, &guest, &InstanceConfig::new()));
    assert_eq!(
        kind,
        ErrorKind::MemoryLimitExceeded,
        "{engine}: one memory by default"
    );
    let three = Limits::default().with_max_memories(3);
    let mut instance = instantiate_with(engine, &guest, &config(three))?;
    assert_eq!(instance.call("grow", &[1, 3000])?, 1, "{engine}: 187.5 MiB");
    let kind = kind_of(instance.call("grow", &[2, 3000]));
    assert_eq!(kind, ErrorKind::MemoryLimitExceeded, "{engine}: 375 MiB");
    Ok(())
}

/// A guest that recurses without end gets `StackExhausted`: a typed error,
/// the host's own stack untouched, the instance still answering.
#[apply(engines)]
fn endless_recursion_exhausts_the_guest_stack_not_the_host(
    #[case] engine: EngineKind,
) -> Result<()> {
    let mut instance = instantiate_with(engine, &wat(RUNAWAY), &InstanceConfig::new())?;
    let error = instance.call("recurse", &[]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::StackExhausted, "{engine}: {error}");
    assert!(!error.to_string().contains('\n'), "{engine}: one line");
    assert_eq!(instance.call("fine", &[])?, 7);
    Ok(())
}

/// A guest that loops without end is stopped at its deadline with
/// `DeadlineExceeded`, without fuel; the next call gets a deadline of its
/// own.
#[apply(engines)]
fn a_runaway_guest_is_stopped_at_its_deadline(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_deadline(Some(Duration::from_millis(200)));
    let mut instance = instantiate_with(engine, &wat(RUNAWAY), &config(limits))?;
    let kind = kind_of(instance.call("spin", &[]));
    assert_eq!(kind, ErrorKind::DeadlineExceeded, "{engine}");
    assert_eq!(
        instance.call("fine", &[])?,
        7,
        "{engine}: the instance goes on"
    );
    let kind = kind_of(instance.call("spin", &[]));
    assert_eq!(
        kind,
        ErrorKind::DeadlineExceeded,
        "{engine}: a deadline per call"
    );
    Ok(())
}

/// The deadline bounds every call refill makes into the guest, not only
/// entry points: a start function and a `__frnt__initiate_buffer` that
/// never return are stopped too.
#[apply(engines)]
fn every_call_into_the_guest_has_the_deadline(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default().with_deadline(Some(Duration::from_millis(200)));
    let looping_start = wat(r#"(module (memory (export "memory") 1)
        (func $start (loop $l (br $l)))
        (start $start)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0))"#);
    let kind = kind_of(instantiate_with(
        engine,
        &looping_start,
        &config(limits.clone()),
    ));
    assert_eq!(
        kind,
        ErrorKind::DeadlineExceeded,
        "{engine}: start function"
    );

    let looping_initiate = wat(r#"(module (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64)
          (loop $l (br $l)) (i64.const 0)))"#);
    let mut instance = instantiate_with(engine, &looping_initiate, &config(limits))?;
    let kind = kind_of(instance.call_with_streams("f", [generated(1, 10)]));
    assert_eq!(
        kind,
        ErrorKind::DeadlineExceeded,
        "{engine}: __frnt__initiate_buffer"
    );
    Ok(())
}

/// `Limits::default()` on an engine built the default way bounds memory,
/// tables, the stack and time, with nothing else set up: the attacker's
/// table guest (10 M elements at once) stops with a limit error, memory
/// stops at 256 MiB, recursion at the stack, and a loop at 5 s.
#[apply(engines)]
fn the_defaults_bound_memory_tables_stack_and_time(#[case] engine: EngineKind) -> Result<()> {
    let limits = Limits::default();
    assert_eq!(limits.deadline, Some(Duration::from_secs(5)));
    let linked = AnyEngine::new(engine)?
        .compile(&wat(RUNAWAY))?
        .link(&HostFunctions::new())?;
    let mut instance = linked.instantiate(&InstanceConfig::new())?;
    assert_eq!(
        kind_of(instance.call("recurse", &[])),
        ErrorKind::StackExhausted
    );
    assert_eq!(
        kind_of(instance.call("spin", &[])),
        ErrorKind::DeadlineExceeded
    );

    let tables = AnyEngine::new(engine)?.compile(&tables_guest(1, 1))?;
    let mut instance = tables.instantiate(&InstanceConfig::new())?;
    let kind = kind_of(instance.call("grow", &[0, 10_000_000]));
    assert_eq!(kind, ErrorKind::TableLimitExceeded, "{engine}");

    let memory = AnyEngine::new(engine)?.compile(&memories_guest(1, 1))?;
    let mut instance = memory.instantiate(&InstanceConfig::new())?;
    assert_eq!(instance.call("grow", &[0, 4095])?, 1, "{engine}: 256 MiB");
    let kind = kind_of(instance.call("grow", &[0, 1]));
    assert_eq!(kind, ErrorKind::MemoryLimitExceeded, "{engine}");
    Ok(())
}

/// A source that panics in the middle of a stream.
struct PanickingSource {
    len: u64,
    served: u64,
    dropped: Arc<AtomicBool>,
}

impl StreamSource for PanickingSource {
    fn total_len(&self) -> u64 {
        self.len
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        if self.served > 0 {
            panic!("the source broke");
        }
        self.served += dst.len() as u64;
        dst.fill(1);
        Ok(())
    }
}

impl Drop for PanickingSource {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// A source that panics during a call leaves nothing behind: its stream is
/// released (the source dropped) on the way out, and the instance refuses
/// every later call with `Poisoned`, never half-way state; a fresh
/// instance works.
#[apply(engines)]
fn a_panicking_source_poisons_the_instance_and_releases_its_stream(
    #[case] engine: EngineKind,
) -> Result<()> {
    let dropped = Arc::new(AtomicBool::new(false));
    let source = PanickingSource {
        len: 1 << 20,
        served: 0,
        dropped: Arc::clone(&dropped),
    };
    let mut instance = instantiate_with(engine, DIGEST.wasm, &InstanceConfig::new())?;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        instance.call_with_streams("digest", [source.boxed()])
    }));
    if let Ok(result) = outcome {
        // An engine that turns the panic into an error must still refuse.
        assert!(result.is_err(), "{engine}: the call cannot have succeeded");
    }
    assert!(
        dropped.load(Ordering::SeqCst),
        "{engine}: the stream was released"
    );
    let again = instance.call_with_streams("digest", [generated(1, 100)]);
    assert_eq!(kind_of(again), ErrorKind::Poisoned, "{engine}");

    let mut fresh = instantiate_with(engine, DIGEST.wasm, &InstanceConfig::new())?;
    let digest = fresh.call_with_streams("digest", [generated(1, 100)])?;
    assert_eq!(digest as u64, generated_digest(1, 100));
    Ok(())
}

/// A host function that panics poisons its instance the same way.
#[apply(engines)]
fn a_panicking_host_function_poisons_the_instance(#[case] engine: EngineKind) -> Result<()> {
    let guest = wat(r#"(module
        (import "env" "boom" (func $boom))
        (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
        (func (export "boom") (result i64) (call $boom) (i64.const 1))
        (func (export "fine") (result i64) i64.const 7))"#);
    let mut host = HostFunctions::new();
    host.func("env", "boom", |_: &mut Caller<'_>| -> Result<()> {
        panic!("the host function broke")
    });
    let linked = AnyEngine::new(engine)?.compile(&guest)?.link(&host)?;
    let mut instance = linked.instantiate(&InstanceConfig::new())?;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| instance.call("boom", &[])));
    if let Ok(result) = outcome {
        assert!(result.is_err(), "{engine}: the call cannot have succeeded");
    }
    assert_eq!(
        kind_of(instance.call("fine", &[])),
        ErrorKind::Poisoned,
        "{engine}"
    );
    Ok(())
}

/// The guest's buffer arithmetic is checked on wasm32: asking its
/// allocator for a buffer of `u32::MAX` bytes (40 + capacity overflows a
/// 32-bit `usize`) traps instead of allocating 39 bytes and declaring 4 GiB;
/// an ordinary capacity still gets its buffer.
#[apply(engines)]
fn the_guest_allocator_traps_on_a_capacity_past_the_address_space(
    #[case] engine: EngineKind,
) -> Result<()> {
    let mut instance = instantiate_with(engine, DIGEST.wasm, &InstanceConfig::new())?;
    let kind = kind_of(instance.call("allocate", &[i64::from(u32::MAX)]));
    assert_eq!(kind, ErrorKind::Trap, "{engine}");
    let mut instance = instantiate_with(engine, DIGEST.wasm, &InstanceConfig::new())?;
    let descriptor = instance.call("allocate", &[4096])?;
    let bytes = instance.read_memory(descriptor, 32)?;
    let capacity = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    assert_eq!(capacity, 4096, "{engine}");
    Ok(())
}

/// An engine built with an instance pool (`EngineConfig::pooling`) holds
/// at most that many live instances: one more fails with
/// `InstanceLimitExceeded`, and a slot freed by dropping an instance serves
/// the next. Where the engine has no pool, asking for one is `Unsupported`
/// (the documented divergence).
#[apply(engines)]
fn an_instance_pool_bounds_live_instances(#[case] engine: EngineKind) -> Result<()> {
    let config =
        EngineConfig::default().with_pooling(Some(Pooling::new(2).with_memory_bytes(1 << 20)));
    let built = AnyEngine::with_config(engine, &config);
    let engine_ = match (
        built,
        divergence(engine, "an_instance_pool_bounds_live_instances"),
    ) {
        (Err(e), Some(_)) => {
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{engine}: {e}");
            return Ok(());
        }
        (Ok(_), Some(d)) => panic!("{engine} no longer diverges: {}", d.reason),
        (built, None) => built?,
    };
    let guest = wat(&format!(r#"(module (memory (export "memory") 1) {ABI})"#));
    let linked = engine_.compile(&guest)?.link(&HostFunctions::new())?;
    let config = InstanceConfig::new();
    let mut first = linked.instantiate(&config)?;
    let second = linked.instantiate(&config)?;
    let third = linked.instantiate(&config).map(drop);
    assert_eq!(kind_of(third), ErrorKind::InstanceLimitExceeded, "{engine}");
    drop(second);
    let mut again = linked.instantiate(&config)?;
    assert_eq!(
        (first.call("fine", &[])?, again.call("fine", &[])?),
        (7, 7),
        "{engine}"
    );
    // A memory past the pool's slots is refused (wasmtime checks it
    // against a slot when it compiles).
    let big = wat(&format!(r#"(module (memory (export "memory") 17) {ABI})"#));
    let refused = engine_
        .compile(&big)
        .and_then(|m| m.instantiate(&config))
        .map(drop);
    assert_eq!(kind_of(refused), ErrorKind::MemoryLimitExceeded, "{engine}");
    Ok(())
}

/// Growth past a table's or memory's own declared maximum is the guest's
/// ordinary failure, -1, on every engine, however large the request (not a
/// limit error, though the request is also past the limit); the table and
/// memory still grow within their maximum afterwards. (Found by the
/// differential fuzzer: wasmi asked refill's limiter first.)
#[apply(engines)]
fn growth_past_a_declared_maximum_is_minus_one(#[case] engine: EngineKind) -> Result<()> {
    let guest = wat(&format!(
        r#"(module (memory (export "memory") 1 4) (table 1 136 funcref) {ABI}
          (func (export "grow_table") (param $n i64) (result i64)
            (i64.extend_i32_s (table.grow 0 (ref.null func) (i32.wrap_i64 (local.get $n)))))
          (func (export "grow_memory") (param $n i64) (result i64)
            (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get $n))))))"#
    ));
    let limits = Limits::default().with_max_table_elements(1024);
    let mut instance = instantiate_with(engine, &guest, &config(limits))?;
    for huge in [137, 4_294_966_272, u32::MAX.into()] {
        assert_eq!(
            instance.call("grow_table", &[huge])?,
            -1,
            "{engine}: table +{huge}"
        );
    }
    for huge in [4, 65_536, u32::MAX.into()] {
        assert_eq!(
            instance.call("grow_memory", &[huge])?,
            -1,
            "{engine}: memory +{huge}"
        );
    }
    assert_eq!(instance.call("grow_table", &[135])?, 1, "{engine}");
    assert_eq!(instance.call("grow_memory", &[3])?, 1, "{engine}");
    Ok(())
}
