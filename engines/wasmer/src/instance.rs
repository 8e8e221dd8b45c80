//! An instance of a guest under wasmer: its store and the exports refill
//! calls, with refill-core's [`Bindings`] (the counterpart of wasmtime's
//! instance).
//!
//! wasmer 7's `Store` is `!Send` (wasmer issue #7001), so this instance is
//! too: it serves the thread that made it, at full speed. The `Send`
//! instance, [`crate::WasmerInstance`], is a handle to one of these kept by
//! a worker thread (`pool.rs`).

use refill_core::abi::SET_ID;
use refill_core::instance::check_entry_signature;
use refill_core::{Bindings, Error, ErrorKind, GuestMemory, HostData, Result};
use wasmer::{FunctionEnv, Memory, RuntimeError, Store, Type, TypedFunction, Value};

use crate::limits::{InstanceLimits, START_EXPORT};
use crate::memory::ViewMemory;
use crate::state::StoreData;

/// One instance for the thread that made it: its store, its function
/// environment (host data, memory), the exports refill calls and its limits.
///
/// It is an `Instance` (through refill-core's blanket implementation over
/// [`Bindings`]) that is neither `Send` nor `Sync`, since wasmer's `Store`
/// is not: `LinkedModule::instantiate_local` on a [`crate::WasmerLinkedModule`] makes one, for
/// hosts that use an instance on one thread. Every operation runs right
/// there, with no hand-over; a panic (of a stream source, say) unwinds to
/// the caller and the instance is poisoned, as on wasmi and wasmtime.
#[derive(Debug)]
pub struct WasmerLocalInstance {
    store: Store,
    env: FunctionEnv<StoreData>,
    instance: wasmer::Instance,
    memory: Memory,
    initiate_buffer: TypedFunction<u32, i64>,
    limits: InstanceLimits,
}

impl WasmerLocalInstance {
    pub(crate) fn new(
        store: Store,
        env: FunctionEnv<StoreData>,
        instance: wasmer::Instance,
        memory: Memory,
        initiate_buffer: TypedFunction<u32, i64>,
        limits: InstanceLimits,
    ) -> Self {
        Self {
            store,
            env,
            instance,
            memory,
            initiate_buffer,
            limits,
        }
    }

    /// Runs one guest call within the instance's limits (fresh fuel, the
    /// deadline), and maps its failure to the limit it hit, if any.
    fn guest_call<R>(
        &mut self,
        call: impl FnOnce(&mut Store) -> Result<R, RuntimeError>,
    ) -> Result<R> {
        self.limits.call(&mut self.store, &self.instance, call)
    }

    /// Runs the module's start function, which refill's limiter took out of
    /// `Instance::new` so that it runs within the instance's limits.
    pub(crate) fn start(&mut self) -> Result<()> {
        if !self.limits.deferred_start() {
            return Ok(());
        }
        let start = self
            .instance
            .exports
            .get_function(START_EXPORT)
            .map_err(|e| {
                Error::new(ErrorKind::Engine, "the module's start function is gone").with_source(e)
            })?
            .clone();
        self.guest_call(|store| start.call(store, &[]).map(drop))
            .map_err(|e| match e.kind() {
                ErrorKind::MemoryLimitExceeded
                | ErrorKind::TableLimitExceeded
                | ErrorKind::CpuBudgetExhausted
                | ErrorKind::DeadlineExceeded
                | ErrorKind::StackExhausted => e,
                _ => Error::new(
                    ErrorKind::Instantiation,
                    "the module's start function failed",
                )
                .with_source(e),
            })
    }

    /// Calls `__frnt_set_id` with the instance's id (its host data's, the one
    /// its refill calls are accepted with), when the module exports it.
    pub(crate) fn set_id(&mut self) -> Result<()> {
        let instance_id = self.host_data().streams().instance_id();
        let Ok(set_id) = self.instance.exports.get_function(SET_ID) else {
            return Ok(());
        };
        let typed = set_id.typed::<i64, ()>(&self.store).map_err(|_| {
            Error::signature_mismatch(SET_ID, "(i64) -> ()", set_id.ty(&self.store))
        })?;
        self.guest_call(|store| typed.call(store, instance_id))
    }
}

impl Bindings for WasmerLocalInstance {
    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64> {
        let initiate_buffer = self.initiate_buffer.clone();
        self.guest_call(|store| initiate_buffer.call(store, capacity))
    }

    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        if export == START_EXPORT {
            // Not the guest's export: refill's limiter made it.
            return Err(Error::missing_export(export));
        }
        let func = self
            .instance
            .exports
            .get_function(export)
            .map_err(|_| Error::missing_export(export))?
            .clone();
        let ty = func.ty(&self.store);
        let is_i64 = |t: &Type| *t == Type::I64;
        check_entry_signature(
            export,
            args.len(),
            ty.params().iter().map(is_i64),
            ty.results().iter().map(is_i64),
            &ty,
        )?;
        let inputs: Vec<Value> = args.iter().map(|&a| Value::I64(a)).collect();
        let output = self.guest_call(|store| func.call(store, &inputs))?;
        match *output {
            [Value::I64(value)] => Ok(value),
            ref other => Err(Error::signature_mismatch(export, "-> i64", other)),
        }
    }

    fn with_memory<R>(&mut self, f: impl FnOnce(&mut dyn GuestMemory, &mut HostData) -> R) -> R {
        let mut env = self.env.clone().into_mut(&mut self.store);
        let (data, store) = env.data_and_store_mut();
        let mut view = ViewMemory::new(self.memory.view(&store));
        f(&mut view, &mut data.host)
    }

    fn memory_size(&self) -> u64 {
        self.memory.view(&self.store).data_size()
    }

    fn read_guest(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        ViewMemory::new(self.memory.view(&self.store)).read(addr, dst)
    }

    fn host_data(&self) -> &HostData {
        &self.env.as_ref(&self.store).host
    }

    fn host_data_mut(&mut self) -> &mut HostData {
        &mut self.env.as_mut(&mut self.store).host
    }
}
