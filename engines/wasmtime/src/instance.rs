//! An instance of a guest under wasmtime: the [`Bindings`] refill-core
//! builds every [`refill_core::Instance`] operation on.

use core::fmt;

use refill_core::engine::check_entry_signature;
use refill_core::{Bindings, Error, ErrorKind, HostStreams, Result};
use wasmtime::{Memory, Store, TypedFunc, Val, ValType};

use crate::engine::HostState;
use crate::error::{engine_error, from_call};
use crate::memory::with_memory;

/// One instance: its store (streams, memory) and the exports refill calls.
pub struct WasmtimeInstance {
    store: Store<HostState>,
    instance: wasmtime::Instance,
    memory: Memory,
    initiate_buffer: TypedFunc<u32, i64>,
    /// The fuel each guest call starts with; `None` on an unmetered engine.
    fuel: Option<u64>,
}

// By hand: wasmtime's `TypedFunc` is not `Debug`, its untyped `Func` is.
impl fmt::Debug for WasmtimeInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmtimeInstance")
            .field("store", &self.store)
            .field("instance", &self.instance)
            .field("memory", &self.memory)
            .field("initiate_buffer", self.initiate_buffer.func())
            .field("fuel", &self.fuel)
            .finish()
    }
}

impl WasmtimeInstance {
    pub(crate) fn new(
        store: Store<HostState>,
        instance: wasmtime::Instance,
        memory: Memory,
        initiate_buffer: TypedFunc<u32, i64>,
        fuel: Option<u64>,
    ) -> Self {
        Self {
            store,
            instance,
            memory,
            initiate_buffer,
            fuel,
        }
    }
}

/// Gives the store a fresh budget of `fuel` for the next guest call (nothing
/// on an unmetered engine): budgets are per call, never carried over.
pub(crate) fn refuel(store: &mut Store<HostState>, fuel: Option<u64>) -> Result<()> {
    match fuel {
        Some(fuel) => store
            .set_fuel(fuel)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot set the fuel", e)),
        None => Ok(()),
    }
}

impl Bindings for WasmtimeInstance {
    type Memory<'a> = [u8];

    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64> {
        refuel(&mut self.store, self.fuel)?;
        self.initiate_buffer
            .call(&mut self.store, capacity)
            .map_err(from_call)
    }

    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let func = self
            .instance
            .get_func(&mut self.store, export)
            .ok_or_else(|| Error::missing_export(export))?;
        let ty = func.ty(&self.store);
        // wasmtime's `ValType` has no `==` (reference types compare by
        // subtyping), and its types come as iterators, not slices.
        let is_i64 = |t: ValType| t.is_i64();
        check_entry_signature(
            export,
            args.len(),
            ty.params().map(is_i64),
            ty.results().map(is_i64),
            &ty,
        )?;
        let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
        let mut output = [Val::I64(0)];
        refuel(&mut self.store, self.fuel)?;
        func.call(&mut self.store, &inputs, &mut output)
            .map_err(from_call)?;
        match output {
            [Val::I64(value)] => Ok(value),
            ref other => Err(Error::signature_mismatch(export, "-> i64", other)),
        }
    }

    fn with_memory<R>(&mut self, f: impl FnOnce(&mut [u8], &mut HostStreams) -> R) -> R {
        with_memory(self.memory, &mut self.store, f)
    }

    fn view_memory<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.memory.data(&self.store))
    }

    fn streams(&self) -> &HostStreams {
        &self.store.data().streams
    }

    fn streams_mut(&mut self) -> &mut HostStreams {
        &mut self.store.data_mut().streams
    }
}
