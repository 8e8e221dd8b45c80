//! The crate's only `unsafe`, alone in this file: the two things wasmer's
//! API makes `unsafe` that refill needs.
//!
//! - **The guest's stack size, through wasmer's `Tunables`.** wasmer 7.4
//!   runs guest code on a stack of its own (a coroutine stack with a guard
//!   page), whose size an engine takes from its `Tunables::vmconfig`
//!   (wasmer's documented per-engine setting; its other setting,
//!   `wasmer_vm::set_stack_size`, changes every engine of the process). A
//!   `Tunables` must also implement `create_vm_memory` and
//!   `create_vm_table`, which are `unsafe fn`s: [`StackTunables`] forwards
//!   both, unchanged, to wasmer's own `BaseTunables` (the composition
//!   wasmer's docs recommend) and only answers `vmconfig` itself. Memories
//!   and tables are limited by the middlewares of `limits.rs`, not here
//!   (see the README for why).
//! - **Loading a compiled module from an artifact** ([`deserialize`]):
//!   `wasmer::Module::deserialize` maps the bytes as machine code and
//!   trusts them to be its own `Module::serialize` output.

#![allow(unsafe_code)]

use std::ptr::NonNull;

use refill_core::artifact::{ArtifactKey, VerifiedArtifact, check_key};
use refill_core::{ErrorKind, Result};
use wasmer::sys::vm::{
    MemoryError, MemoryStyle, TableStyle, VMConfig, VMMemory, VMMemoryDefinition, VMTable,
    VMTableDefinition,
};
use wasmer::sys::{BaseTunables, Tunables};
use wasmer::{MemoryType, TableType};

/// wasmer's own tunables, with a guest stack of a chosen size.
pub(crate) struct StackTunables {
    base: BaseTunables,
    vmconfig: VMConfig,
}

impl StackTunables {
    /// wasmer's tunables with guest stacks of `bytes` bytes.
    pub(crate) fn new(bytes: usize) -> Self {
        Self {
            base: BaseTunables::new(),
            vmconfig: VMConfig {
                wasm_stack_size: Some(bytes),
            },
        }
    }
}

impl Tunables for StackTunables {
    fn memory_style(&self, memory: &MemoryType) -> MemoryStyle {
        self.base.memory_style(memory)
    }

    fn table_style(&self, table: &TableType) -> TableStyle {
        self.base.table_style(table)
    }

    fn create_host_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
    ) -> Result<VMMemory, MemoryError> {
        self.base.create_host_memory(ty, style)
    }

    unsafe fn create_vm_memory(
        &self,
        ty: &MemoryType,
        style: &MemoryStyle,
        vm_definition_location: NonNull<VMMemoryDefinition>,
    ) -> Result<VMMemory, MemoryError> {
        // SAFETY: the one requirement (`vm_definition_location` points to a
        // valid, owned `VMMemoryDefinition` in VM memory) is our caller's,
        // by this `unsafe fn`'s contract; it is the very requirement of
        // `BaseTunables::create_vm_memory`, which gets the same arguments
        // unchanged.
        unsafe {
            self.base
                .create_vm_memory(ty, style, vm_definition_location)
        }
    }

    fn create_host_table(&self, ty: &TableType, style: &TableStyle) -> Result<VMTable, String> {
        self.base.create_host_table(ty, style)
    }

    unsafe fn create_vm_table(
        &self,
        ty: &TableType,
        style: &TableStyle,
        vm_definition_location: NonNull<VMTableDefinition>,
    ) -> Result<VMTable, String> {
        // SAFETY: as in `create_vm_memory`: `vm_definition_location` pointing
        // to a valid, owned `VMTableDefinition` is our caller's obligation,
        // passed on unchanged to `BaseTunables::create_vm_table`, which asks
        // exactly that.
        unsafe { self.base.create_vm_table(ty, style, vm_definition_location) }
    }

    fn vmconfig(&self) -> &VMConfig {
        &self.vmconfig
    }
}

/// The module serialized in `artifact`, loaded into `engine` (built as
/// the engine that serialized it: same compiler, middlewares and
/// tunables), for an engine whose key for the module's wasm is `expected`
/// (`None`: the engine keeps no artifacts).
pub(crate) fn deserialize(
    engine: &wasmer::Engine,
    expected: Option<&ArtifactKey>,
    artifact: VerifiedArtifact<'_>,
) -> Result<wasmer::Module> {
    check_key(&artifact, expected)?;
    // SAFETY: wasmer requires the bytes to be a valid artifact previously
    // built by its own `Module::serialize`. They are: a `VerifiedArtifact`
    // exists only once refill-core has checked the envelope that
    // `ModuleCache` (through `artifact::seal`) wrote around
    // `WasmerEngine::serialize`'s output: its magic and format, its whole
    // key, its length and the BLAKE3 hash of the payload, so a corrupt,
    // truncated, foreign or stale file is refused before this point; and
    // `check_key` above has just checked that the key it was verified
    // against is this engine's own for this wasm (wasmer's version, the
    // target and its CPU features, refill's version and configuration: fuel
    // metering, stack size, interruption, the limiter's revision; the wasm's
    // BLAKE3 hash). What the envelope cannot vouch for is a writer of the cache
    // directory who forges a whole envelope: that is outside the contract
    // (the directory is as trusted as the executable; see
    // docs/security.md). Tested by `artifact::tests`, which load modules
    // through here and run them.
    let module = unsafe { wasmer::Module::deserialize(engine, artifact.payload()) };
    module.map_err(|e| {
        crate::error::engine_error(ErrorKind::InvalidArtifact, "wasmer refused the artifact", e)
    })
}

#[cfg(test)]
mod tests {
    use wasmer::sys::{NativeEngineExt, Singlepass};
    use wasmer::{Instance, Module, Store, TypedFunction, imports};

    use super::*;

    /// Memories and tables made through the forwarding `unsafe fn`s work as
    /// wasmer's own: they are created at their declared size, read, written,
    /// grown (to their own maximum and no further) and called through.
    #[test]
    fn memories_and_tables_are_wasmers_own() {
        let mut engine: wasmer::Engine = Singlepass::default().into();
        engine.set_tunables(StackTunables::new(256 << 10));
        assert_eq!(
            engine.tunables().vmconfig().wasm_stack_size,
            Some(256 << 10)
        );
        let wasm = wat::parse_str(
            r#"(module
              (memory (export "memory") 1 3)
              (table $t 2 4 funcref)
              (elem (i32.const 0) $seven $eight)
              (type $n (func (result i32)))
              (func $seven (result i32) i32.const 7)
              (func $eight (result i32) i32.const 8)
              (func (export "run") (param i32) (result i32)
                (i32.store (i32.const 65532) (i32.const 0x01020304))
                (i32.add
                  (i32.load8_u (i32.const 65532))
                  (call_indirect (type $n) (local.get 0))))
              (func (export "grow_memory") (param i32) (result i32)
                (memory.grow (local.get 0)))
              (func (export "grow_table") (param i32) (result i32)
                (table.grow $t (ref.null func) (local.get 0))))"#,
        )
        .expect("test module");
        let mut store = Store::new(engine);
        let module = Module::from_binary(&store, &wasm).expect("compiles");
        let instance = Instance::new(&mut store, &module, &imports! {}).expect("instance");
        let mut call = |name: &str, arg: i32| {
            let func: TypedFunction<i32, i32> = instance
                .exports
                .get_typed_function(&store, name)
                .expect("export");
            func.call(&mut store, arg)
        };
        assert_eq!(call("run", 0).expect("call"), 4 + 7);
        assert_eq!(call("run", 1).expect("call"), 4 + 8);
        assert!(call("run", 2).is_err(), "out of the table");
        assert_eq!(call("grow_memory", 2).expect("grow"), 1);
        assert_eq!(call("grow_memory", 1).expect("grow"), -1);
        assert_eq!(call("grow_table", 2).expect("grow"), 2);
        assert_eq!(call("grow_table", 1).expect("grow"), -1);
        let memory = instance.exports.get_memory("memory").expect("memory");
        assert_eq!(memory.view(&store).data_size(), 3 * 65_536);
    }
}
