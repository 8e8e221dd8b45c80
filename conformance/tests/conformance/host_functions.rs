//! Host functions an embedder declares once, served by every engine: every
//! value type in and out, checked access to the caller's memory, state of
//! its own per instance, its errors carried through the guest's trap, and
//! modules that import what the host does not provide.

use std::sync::{Arc, Mutex};

use refill::{
    Caller, EngineKind, Error, ErrorKind, HostFunctions, Instance, InstanceConfig, InstanceExt,
    LinkedModule, Result, StateSlot,
};
use refill_conformance::{divergence, link};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::{kind_of, wat};

/// A guest that calls each of the embedder's functions from an `i64`
/// export of its own, and keeps the id it is given.
const GUEST: &str = r#"(module
  (import "env" "mix" (func $mix (param i32 i64 f32 f64) (result f64)))
  (import "env" "sum" (func $sum (param i64 i32) (result i64)))
  (import "env" "fill" (func $fill (param i64 i32 i32)))
  (import "env" "fail" (func $fail (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $id (mut i64) (i64.const -1))
  (data (i32.const 100) "\01\02\03\04\05")
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
  (func (export "id") (result i64) (global.get $id))
  (func (export "mix") (param i64) (result i64)
    (i64.reinterpret_f64 (call $mix
      (i32.wrap_i64 (local.get 0)) (local.get 0)
      (f32.convert_i64_s (local.get 0)) (f64.convert_i64_s (local.get 0)))))
  (func (export "sum") (param i64 i64) (result i64)
    (call $sum (local.get 0) (i32.wrap_i64 (local.get 1))))
  (func (export "fill") (param i64 i64 i64) (result i64)
    (call $fill (local.get 0) (i32.wrap_i64 (local.get 1)) (i32.wrap_i64 (local.get 2)))
    (i64.const 0))
  (func (export "fail") (param i64) (result i64)
    (i64.extend_i32_s (call $fail (i32.wrap_i64 (local.get 0))))))"#;

/// The embedder's own error, to find again behind the trap.
#[derive(Debug, PartialEq, Eq)]
struct Refused(i32);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused {}", self.0)
    }
}

impl std::error::Error for Refused {}

/// What `mix` last received, for the test to compare.
type Seen = Arc<Mutex<Option<(i32, i64, f32, f64)>>>;

/// The embedder's host functions, with a per-instance count of the calls.
fn host() -> (HostFunctions, StateSlot<u32>, Seen) {
    let mut host = HostFunctions::new();
    let calls = host.state(|| 0u32);
    let seen: Seen = Arc::default();
    let last = Arc::clone(&seen);
    host.func(
        "env",
        "mix",
        move |c: &mut Caller<'_>, a: i32, b: i64, x: f32, y: f64| -> Result<f64> {
            *c.state(calls)? += 1;
            *last.lock().unwrap() = Some((a, b, x, y));
            Ok(f64::from(a) + b as f64 + f64::from(x) + y)
        },
    )
    .func(
        "env",
        "sum",
        move |c: &mut Caller<'_>, ptr: i64, len: i32| -> Result<i64> {
            *c.state(calls)? += 1;
            let bytes = c.read_capped(ptr, len.into(), 1024)?;
            Ok(bytes.iter().map(|&b| i64::from(b)).sum())
        },
    )
    .func(
        "env",
        "fill",
        move |c: &mut Caller<'_>, ptr: i64, len: i32, byte: i32| -> Result<()> {
            *c.state(calls)? += 1;
            c.write_with(ptr, len.into(), &mut |dst| {
                dst.fill(byte as u8);
                Ok(())
            })
        },
    )
    .func(
        "env",
        "fail",
        move |c: &mut Caller<'_>, code: i32| -> Result<i32> {
            *c.state(calls)? += 1;
            match code {
                0 => Ok(7),
                code => Err(Error::host("the embedder refused").with_source(Refused(code))),
            }
        },
    );
    (host, calls, seen)
}

/// All of guest memory, to see that a refused call wrote nothing.
fn memory(instance: &impl Instance) -> Vec<u8> {
    instance
        .read_memory(0, instance.memory_size())
        .expect("the whole memory is readable")
}

/// A host function takes and returns i32, i64, f32 and f64 exactly as the
/// guest passes them, on every engine.
#[apply(engines)]
fn every_value_type_goes_in_and_out(#[case] engine: EngineKind) -> Result<()> {
    let (host, calls, seen) = host();
    let mut instance = link(engine, &wat(GUEST), &host)?.instantiate(&InstanceConfig::new())?;
    let mixed = instance.call("mix", &[3])?;
    assert_eq!(f64::from_bits(mixed as u64), 12.0, "{engine}");
    assert_eq!(*seen.lock().unwrap(), Some((3, 3, 3.0, 3.0)), "{engine}");
    let big = instance.call("mix", &[-5_000_000_000])?;
    let expected = f64::from(-5_000_000_000i64 as i32) - 5e9 + f64::from(-5e9f32) - 5e9;
    assert_eq!(f64::from_bits(big as u64), expected, "{engine}");
    assert_eq!(instance.with_state(calls, |n| *n)?, 2, "{engine}");
    Ok(())
}

/// A host function returns two values at once (multi-value), or, on an
/// engine that cannot import such a function, the module is refused with
/// `Unsupported` when it is compiled (the documented divergence).
#[apply(engines)]
fn two_results_come_back_together(#[case] engine: EngineKind) -> Result<()> {
    let mut host = HostFunctions::new();
    host.func(
        "env",
        "split",
        |_: &mut Caller<'_>, v: i64| -> Result<(i32, i32)> { Ok(((v >> 32) as i32, v as i32)) },
    );
    let guest = wat(r#"(module
      (import "env" "split" (func $split (param i64) (result i32 i32)))
      (memory (export "memory") 1)
      (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
      (func (export "split") (param i64) (result i64) (local $hi i32) (local $lo i32)
        (call $split (local.get 0))
        (local.set $lo) (local.set $hi)
        (i64.or (i64.shl (i64.extend_i32_u (local.get $hi)) (i64.const 32))
                (i64.extend_i32_u (local.get $lo)))))"#);
    let linked = match (
        link(engine, &guest, &host),
        divergence(engine, "two_results_come_back_together"),
    ) {
        (Err(e), Some(_)) => {
            assert_eq!(e.kind(), ErrorKind::Unsupported, "{engine}: {e}");
            return Ok(());
        }
        (Ok(_), Some(d)) => panic!("{engine} no longer diverges: {}", d.reason),
        (linked, None) => linked?,
    };
    let mut instance = linked.instantiate(&InstanceConfig::new())?;
    for v in [0, 1, -1, i64::MIN, 0x1234_5678_9abc_def0] {
        assert_eq!(instance.call("split", &[v])?, v, "{engine}: split {v:#x}");
    }
    Ok(())
}

/// A host function reads and writes the caller's memory only through
/// checked ranges: a range outside it (negative, past the end, straddling
/// it) traps with `ArgumentOutOfBounds` and writes nothing; a length above
/// the function's own cap is `PayloadTooLarge`.
#[apply(engines)]
fn guest_memory_is_reached_through_checked_ranges(#[case] engine: EngineKind) -> Result<()> {
    let (host, ..) = host();
    let mut instance = link(engine, &wat(GUEST), &host)?.instantiate(&InstanceConfig::new())?;
    assert_eq!(instance.call("sum", &[100, 5])?, 15, "{engine}");
    instance.call("fill", &[200, 4, 0xAB])?;
    assert_eq!(
        instance.read_memory(199, 6)?,
        [0, 0xAB, 0xAB, 0xAB, 0xAB, 0],
        "{engine}"
    );
    let before = memory(&instance);
    let size = before.len() as i64;
    let outside = [
        ("sum", vec![-1, 1]),
        ("sum", vec![size - 2, 5]),
        ("sum", vec![0, -1]),
        ("sum", vec![i64::MAX, 1]),
        ("fill", vec![size - 1, 2, 0xCD]),
        ("fill", vec![-4, 4, 0xCD]),
        ("fill", vec![1 << 32, 0, 0xCD]),
    ];
    for (export, args) in outside {
        let kind = kind_of(instance.call(export, &args));
        assert_eq!(
            kind,
            ErrorKind::ArgumentOutOfBounds,
            "{engine}: {export}{args:?}"
        );
        assert!(
            memory(&instance) == before,
            "{engine}: {export}{args:?} wrote to memory"
        );
    }
    let kind = kind_of(instance.call("sum", &[0, 2000]));
    assert_eq!(kind, ErrorKind::PayloadTooLarge, "{engine}");
    assert_eq!(
        instance.call("sum", &[100, 5])?,
        15,
        "{engine}: still serving"
    );
    Ok(())
}

/// A host function's error traps the guest, and the caller gets that error
/// back with its kind, message and source; the instance serves the next
/// call.
#[apply(engines)]
fn a_host_functions_error_comes_back_intact(#[case] engine: EngineKind) -> Result<()> {
    let (host, ..) = host();
    let mut instance = link(engine, &wat(GUEST), &host)?.instantiate(&InstanceConfig::new())?;
    let error = instance.call("fail", &[42]).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::HostFunction, "{engine}");
    assert_eq!(error.message(), "the embedder refused", "{engine}");
    let source = std::error::Error::source(&error).and_then(|s| s.downcast_ref::<Refused>());
    assert_eq!(
        source,
        Some(&Refused(42)),
        "{engine}: the embedder's error is the source"
    );
    assert_eq!(instance.call("fail", &[0])?, 7, "{engine}");
    Ok(())
}

/// One linked module makes any number of instances from one config, each
/// with an id and host-function state of its own.
#[apply(engines)]
fn each_instance_has_its_own_id_and_state(#[case] engine: EngineKind) -> Result<()> {
    let (host, calls, _) = host();
    let linked = link(engine, &wat(GUEST), &host)?;
    let config = InstanceConfig::new();
    let mut instances = (0..3)
        .map(|_| linked.instantiate(&config))
        .collect::<Result<Vec<_>>>()?;
    for (n, instance) in instances.iter_mut().enumerate() {
        assert_eq!(
            instance.call("id", &[])?,
            instance.instance_id(),
            "{engine}"
        );
        for _ in 0..n {
            instance.call("fail", &[0])?;
        }
    }
    let mut ids: Vec<i64> = instances.iter().map(|i| i.instance_id()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{engine}: ids {ids:?}");
    for (n, instance) in instances.iter_mut().enumerate() {
        assert_eq!(instance.with_state(calls, |c| *c)?, n as u32, "{engine}");
    }
    let fixed = config.with_instance_id(77);
    assert_eq!(linked.instantiate(&fixed)?.call("id", &[])?, 77, "{engine}");
    Ok(())
}

/// Linking a module that imports what the host does not provide (a
/// function it lacks, one of another type, a memory) fails with
/// `MissingImport` and one line naming every such import with its type.
#[apply(engines)]
fn missing_imports_are_named_with_their_signatures(#[case] engine: EngineKind) {
    let (host, ..) = host();
    let module = wat(r#"(module
      (import "env" "absent" (func (param i32) (result i32)))
      (import "env" "mix" (func (param i64)))
      (import "env" "mem" (memory 1))
      (import "freenet_contract_io" "__frnt__fill_buffer" (func (param i64 i64) (result i32)))
      (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0)))"#);
    let error = link(engine, &module, &host).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MissingImport, "{engine}");
    let message = error.to_string();
    assert_eq!(message.lines().count(), 1, "{engine}: {message}");
    for needle in [
        "`env.absent: (i32) -> i32`",
        "`env.mix: (i64) -> ()` (the host's has type (i32, i64, f32, f64) -> f64)",
        "`env.mem: memory`",
    ] {
        assert!(
            message.contains(needle),
            "{engine}: `{needle}` not in {message}"
        );
    }
    assert!(
        !message.contains("__frnt__fill_buffer"),
        "{engine}: served imports are not named"
    );
}
