//! An instance of a guest under wasmtime: the [`Bindings`] refill-core
//! builds every [`refill_core::Instance`] operation on.

use core::fmt;

use refill_core::instance::check_entry_signature;
use refill_core::memory::checked_slice_range;
use refill_core::{Bindings, Error, GuestMemory, HostData, Result};
use wasmtime::{Func, Memory, Store, TypedFunc, Val, ValType};

use std::sync::Arc;

use crate::engine::EpochTicker;
use crate::error::from_call;
use crate::state::{CallLimits, StoreData, prepare_call};

/// One instance: its store (host data, memory) and the exports refill calls.
pub struct WasmtimeInstance {
    store: Store<StoreData>,
    instance: wasmtime::Instance,
    memory: Memory,
    initiate_buffer: TypedFunc<u32, i64>,
    /// The fuel and deadline of each guest call.
    limits: CallLimits,
    /// The engine's epoch ticker, kept running while the instance lives.
    _ticker: Option<Arc<EpochTicker>>,
    /// Linked for async calls: wasmtime then takes only its `*_async`
    /// entry points, which the sync operations poll once.
    is_async: bool,
}

// By hand: wasmtime's `TypedFunc` is not `Debug`, its untyped `Func` is.
impl fmt::Debug for WasmtimeInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmtimeInstance")
            .field("store", &self.store)
            .field("instance", &self.instance)
            .field("memory", &self.memory)
            .field("initiate_buffer", self.initiate_buffer.func())
            .field("limits", &self.limits)
            .field("is_async", &self.is_async)
            .finish()
    }
}

impl WasmtimeInstance {
    pub(crate) fn new(
        store: Store<StoreData>,
        instance: wasmtime::Instance,
        memory: Memory,
        initiate_buffer: TypedFunc<u32, i64>,
        limits: CallLimits,
        ticker: Option<Arc<EpochTicker>>,
        is_async: bool,
    ) -> Self {
        Self {
            store,
            instance,
            memory,
            initiate_buffer,
            limits,
            _ticker: ticker,
            is_async,
        }
    }
}

impl WasmtimeInstance {
    /// The export `export`, its type checked for `args` `i64` arguments.
    pub(crate) fn entry(&mut self, export: &str, args: usize) -> Result<Func> {
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
            args,
            ty.params().map(is_i64),
            ty.results().map(is_i64),
            &ty,
        )?;
        Ok(func)
    }

    /// An entry point's result.
    pub(crate) fn result(export: &str, output: [Val; 1]) -> Result<i64> {
        match output {
            [Val::I64(value)] => Ok(value),
            ref other => Err(Error::signature_mismatch(export, "-> i64", other)),
        }
    }

    /// The store and the limits of each call.
    #[cfg(feature = "async")]
    pub(crate) fn store_and_limits(&mut self) -> (&mut Store<StoreData>, &CallLimits) {
        (&mut self.store, &self.limits)
    }
}

impl Bindings for WasmtimeInstance {
    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64> {
        prepare_call(&mut self.store, &self.limits)?;
        sync_or_now!(
            self.is_async,
            self.initiate_buffer.call(&mut self.store, capacity),
            self.initiate_buffer.call_async(&mut self.store, capacity)
        )?
        .map_err(from_call)
    }

    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let func = self.entry(export, args.len())?;
        let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
        let mut output = [Val::I64(0)];
        prepare_call(&mut self.store, &self.limits)?;
        sync_or_now!(
            self.is_async,
            func.call(&mut self.store, &inputs, &mut output),
            func.call_async(&mut self.store, &inputs, &mut output)
        )?
        .map_err(from_call)?;
        Self::result(export, output)
    }

    fn with_memory<R>(&mut self, f: impl FnOnce(&mut dyn GuestMemory, &mut HostData) -> R) -> R {
        let (mut bytes, data) = self.memory.data_and_store_mut(&mut self.store);
        f(&mut bytes, &mut data.host)
    }

    fn memory_size(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    fn read_guest(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        let bytes = self.memory.data(&self.store);
        let range = checked_slice_range(addr, dst.len(), bytes.len())?;
        dst.copy_from_slice(&bytes[range]);
        Ok(())
    }

    fn host_data(&self) -> &HostData {
        &self.store.data().host
    }

    fn host_data_mut(&mut self) -> &mut HostData {
        &mut self.store.data_mut().host
    }
}
