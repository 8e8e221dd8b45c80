//! Bad modules, bad calls and failing sources: typed errors, same kind on
//! every engine, and the instance still usable afterwards.

use refill::{
    BoxedSource, EngineKind, ErrorKind, Instance, InstanceExt, Result, StreamOptions, StreamSource,
};
use refill_conformance::{generated, generated_digest, instantiate};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

/// The kind of an expected error.
pub(crate) fn kind_of<T: std::fmt::Debug>(result: Result<T>) -> ErrorKind {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.kind(),
    }
}

/// Bytes that are not WebAssembly are an `InvalidModule` error.
#[apply(engines)]
fn garbage_is_an_invalid_module(#[case] engine: EngineKind) {
    let kind = kind_of(instantiate(engine, b"\0asm\x01\0\0\0garbage", 4096).map(|_| ()));
    assert_eq!(kind, ErrorKind::InvalidModule, "{engine}");
    assert_eq!(
        kind_of(instantiate(engine, b"", 4096).map(|_| ())),
        ErrorKind::InvalidModule
    );
}

/// Calling an export the module does not have is `MissingExport`; calling
/// one with the wrong number of arguments is `SignatureMismatch`; neither
/// leaves streams behind.
#[apply(engines)]
fn bad_calls_are_typed_errors(#[case] engine: EngineKind) -> Result<()> {
    let fixture = &refill_fixtures::DIGEST;
    let mut instance = instantiate(engine, fixture.wasm, 4096)?;
    let missing = instance.call_with_streams("no_such_export", [generated(0, 10)]);
    assert_eq!(kind_of(missing), ErrorKind::MissingExport, "{engine}");
    let two = instance.call_with_streams(fixture.export, [generated(0, 10), generated(1, 10)]);
    assert_eq!(kind_of(two), ErrorKind::SignatureMismatch, "{engine}");
    let memory_is_not_a_function = instance.call("memory", &[]);
    assert_eq!(
        kind_of(memory_is_not_a_function),
        ErrorKind::MissingExport,
        "{engine}"
    );
    let ok = instance.call_with_streams(fixture.export, [generated(3, 5000)])?;
    assert_eq!(ok as u64, generated_digest(3, 5000));
    Ok(())
}

/// A module without the `memory` or `__frnt__initiate_buffer` export cannot
/// be instantiated for streaming: `MissingExport`.
#[apply(engines)]
fn modules_without_the_abi_exports_are_refused(#[case] engine: EngineKind) -> Result<()> {
    let no_memory = wat(
        "(module (func (export \"__frnt__initiate_buffer\") (param i32) (result i64) i64.const 0))",
    );
    assert_eq!(
        kind_of(instantiate(engine, &no_memory, 4096).map(|_| ())),
        ErrorKind::MissingExport
    );
    let no_initiate = wat("(module (memory (export \"memory\") 1))");
    assert_eq!(
        kind_of(instantiate(engine, &no_initiate, 4096).map(|_| ())),
        ErrorKind::MissingExport
    );
    let bad_initiate = wat(
        "(module (memory (export \"memory\") 1) (func (export \"__frnt__initiate_buffer\") (param i64) (result i64) i64.const 0))",
    );
    assert_eq!(
        kind_of(instantiate(engine, &bad_initiate, 4096).map(|_| ())),
        ErrorKind::SignatureMismatch
    );
    Ok(())
}

/// A guest that passes an id other than its own to `__frnt__fill_buffer`
/// traps with `WrongInstanceId`, raised by the host and recovered intact.
#[apply(engines)]
fn foreign_instance_id_traps_with_its_kind(#[case] engine: EngineKind) -> Result<()> {
    let module = wat(FORGER);
    let mut instance = instantiate(engine, &module, 4096)?;
    let buf = instance.open_stream(generated(0, 100_000), StreamOptions::new())?;
    // -2: ids handed out by refill are positive.
    let result = instance.call("forge", &[buf, -2]);
    assert_eq!(kind_of(result), ErrorKind::WrongInstanceId, "{engine}");
    Ok(())
}

/// A source that ends before its declared length fails the call with
/// `SourceTruncated`; the instance then streams the next call correctly.
#[apply(engines)]
fn truncated_source_fails_the_call_and_the_instance_recovers(
    #[case] engine: EngineKind,
) -> Result<()> {
    let fixture = &refill_fixtures::DIGEST;
    let mut instance = instantiate(engine, fixture.wasm, 4096)?;
    let liar: BoxedSource = Box::new(Liar {
        declared: 100_000,
        has: 50_000,
        given: 0,
    });
    let result = instance.call_with_streams(fixture.export, [liar]);
    assert_eq!(kind_of(result), ErrorKind::SourceTruncated, "{engine}");
    let ok = instance.call_with_streams(fixture.export, [generated(9, 100_000)])?;
    assert_eq!(ok as u64, generated_digest(9, 100_000));
    Ok(())
}

/// Declares more bytes than it has.
struct Liar {
    declared: u64,
    has: u64,
    given: u64,
}

impl StreamSource for Liar {
    fn total_len(&self) -> u64 {
        self.declared
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        if self.given + dst.len() as u64 > self.has {
            return Err(refill::Error::new(
                ErrorKind::SourceTruncated,
                "the liar ran out",
            ));
        }
        dst.fill(7);
        self.given += dst.len() as u64;
        Ok(())
    }
}

/// A module from WebAssembly text.
pub(crate) fn wat(text: &str) -> Vec<u8> {
    match wat::parse_str(text) {
        Ok(bytes) => bytes,
        Err(e) => panic!("test WAT does not parse: {e}"),
    }
}

/// A guest with a real buffer layout (descriptor at 0) whose `forge(buf,
/// victim)` refills its buffer with the id `victim` instead of its own.
pub(crate) const FORGER: &str = r#"
(module
  (import "freenet_contract_io" "__frnt__fill_buffer" (func $fill (param i64 i64) (result i32)))
  (memory (export "memory") 2)
  ;; descriptor at 0: start=64, capacity=4096, last_read=40, last_write=44
  (data (i32.const 0) "\40\00\00\00\00\00\00\00\00\10\00\00\00\00\00\00\28\00\00\00\00\00\00\00\2c\00\00\00\00\00\00\00")
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
  (func (export "forge") (param $buf i64) (param $victim i64) (result i64)
    (i64.extend_i32_u (call $fill (local.get $victim) (local.get $buf)))))
"#;

/// A module that needs an import refill does not provide, or declares the
/// refill import with the wrong type, fails to link (and so to
/// instantiate): `MissingImport`.
#[apply(engines)]
fn unresolvable_imports_fail_instantiation(#[case] engine: EngineKind) {
    let unknown = wat(
        r#"(module (import "env" "clock" (func (result i64))) (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0))"#,
    );
    assert_eq!(
        kind_of(instantiate(engine, &unknown, 4096).map(|_| ())),
        ErrorKind::MissingImport
    );
    let wrong_type = wat(
        r#"(module (import "freenet_contract_io" "__frnt__fill_buffer" (func (param i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0))"#,
    );
    assert_eq!(
        kind_of(instantiate(engine, &wrong_type, 4096).map(|_| ())),
        ErrorKind::MissingImport
    );
}

/// `__frnt_set_id` with another type than `(i64) -> ()` is refused.
#[apply(engines)]
fn set_id_with_the_wrong_type_is_refused(#[case] engine: EngineKind) {
    let module = wat(r#"(module (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
        (func (export "__frnt_set_id") (param i32)))"#);
    assert_eq!(
        kind_of(instantiate(engine, &module, 4096).map(|_| ())),
        ErrorKind::SignatureMismatch
    );
}

/// A guest's own trap (`unreachable`) is a `Trap`, and the next call works.
#[apply(engines)]
fn guest_trap_is_a_trap_and_the_instance_recovers(#[case] engine: EngineKind) -> Result<()> {
    let module = wat(r#"(module (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
        (func (export "boom") (result i64) unreachable)
        (func (export "fine") (result i64) i64.const 7))"#);
    let mut instance = instantiate(engine, &module, 4096)?;
    assert_eq!(
        kind_of(instance.call("boom", &[])),
        ErrorKind::Trap,
        "{engine}"
    );
    assert_eq!(instance.call("fine", &[])?, 7);
    Ok(())
}

/// Reading results back checks the guest-supplied range against memory.
#[apply(engines)]
fn read_back_is_bounds_checked(#[case] engine: EngineKind) -> Result<()> {
    let instance = instantiate(engine, refill_fixtures::DIGEST.wasm, 4096)?;
    let size = instance.memory_size();
    assert_eq!(instance.read_memory(0, 16)?.len(), 16);
    assert_eq!(instance.read_memory(size as i64 - 4, 4)?.len(), 4);
    for (addr, len) in [(size as i64 - 3, 4), (-1, 1), (0, u64::MAX), (i64::MAX, 1)] {
        assert_eq!(
            kind_of(instance.read_memory(addr, len)),
            ErrorKind::ResultOutOfBounds,
            "{engine}"
        );
    }
    Ok(())
}

/// The refill import is not an export of the guest and cannot be called as one.
#[apply(engines)]
fn the_import_is_not_callable_as_an_export(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = instantiate(engine, refill_fixtures::DIGEST.wasm, 4096)?;
    assert_eq!(
        kind_of(instance.call("__frnt__fill_buffer", &[0, 0])),
        ErrorKind::MissingExport
    );
    Ok(())
}
