//! An instance of a guest under wasmer.
//!
//! wasmer 7's `Store` is `!Send` (it holds `Rc`s, its VM objects raw
//! pointers; wasmer issue #7001), while refill-core's `Instance` must be
//! `Send`. Without `unsafe`, the way to have both is to keep the store on one
//! thread: a [`LocalInstance`] (the store and the exports, the counterpart of
//! wasmtime's instance, with refill-core's [`Bindings`]) lives on a worker
//! thread of its own, and [`WasmerInstance`] is the handle that sends it each
//! operation as a closure and waits for the answer. Streaming itself runs on
//! the worker (host functions never leave it), so the hand-over costs once
//! per call, not per refill.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;

use refill_core::abi::SET_ID;
use refill_core::host::BoxedState;
use refill_core::instance::check_entry_signature;
use refill_core::{
    Bindings, BoxedSource, Error, ErrorKind, GuestMemory, HostData, Instance, Result,
    StreamOptions, StreamStats,
};
use wasmer::{FunctionEnv, Memory, RuntimeError, Store, Type, TypedFunction, Value};

use crate::limits::{InstanceLimits, START_EXPORT};
use crate::memory::ViewMemory;
use crate::state::StoreData;

/// One instance on its worker thread: its store, its function environment
/// (host data, memory), the exports refill calls and its limits.
#[derive(Debug)]
pub(crate) struct LocalInstance {
    store: Store,
    env: FunctionEnv<StoreData>,
    instance: wasmer::Instance,
    memory: Memory,
    initiate_buffer: TypedFunction<u32, i64>,
    limits: InstanceLimits,
}

impl LocalInstance {
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

impl Bindings for LocalInstance {
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

/// An operation for the worker thread to run on its instance.
type Job = Box<dyn FnOnce(&mut LocalInstance) + Send>;

/// What a job sends back: its result, or the panic it raised (a panicking
/// `StreamSource`, say), to be resumed on the caller's thread.
type Reply<R> = thread::Result<R>;

/// One instance: a handle to the worker thread that owns its store, its
/// streams and its memory. Dropping it stops the thread and frees the store.
///
/// A panic on the worker (of a stream source, say) is caught there and
/// resumed on the caller's thread, as it would unwind out of wasmi or
/// wasmtime: the worker lives on, and refill-core's call guard has poisoned
/// the instance, which refuses every later call with
/// [`ErrorKind::Poisoned`]. Should the worker itself be gone, every
/// operation that can fail answers [`ErrorKind::Poisoned`] too.
#[derive(Debug)]
pub struct WasmerInstance {
    /// `None` only while dropping: closing the channel ends the worker.
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<thread::JoinHandle<()>>,
    instance_id: i64,
}

impl WasmerInstance {
    /// Starts a worker thread, instantiates there with `instantiate`, and
    /// returns the handle once the instance is ready.
    pub(crate) fn spawn(
        instance_id: i64,
        instantiate: impl FnOnce() -> Result<LocalInstance> + Send + 'static,
    ) -> Result<Self> {
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready, is_ready) = mpsc::sync_channel::<Reply<Result<()>>>(1);
        let worker = thread::Builder::new()
            .name(format!("refill-wasmer-{instance_id}"))
            .spawn(move || {
                let mut local = match panic::catch_unwind(AssertUnwindSafe(instantiate)) {
                    Ok(Ok(local)) => {
                        let _ = ready.send(Ok(Ok(())));
                        local
                    }
                    Ok(Err(error)) => {
                        let _ = ready.send(Ok(Err(error)));
                        return;
                    }
                    Err(panic) => {
                        let _ = ready.send(Err(panic));
                        return;
                    }
                };
                drop(ready);
                for job in inbox {
                    job(&mut local);
                }
            })
            .map_err(|e| {
                Error::new(ErrorKind::Engine, "cannot start a thread for the instance")
                    .with_source(e)
            })?;
        let outcome = is_ready.recv();
        match outcome {
            Ok(Ok(Ok(()))) => Ok(Self {
                jobs: Some(jobs),
                worker: Some(worker),
                instance_id,
            }),
            Ok(Ok(Err(error))) => {
                let _ = worker.join();
                Err(error)
            }
            Ok(Err(panic)) => {
                let _ = worker.join();
                panic::resume_unwind(panic)
            }
            Err(mpsc::RecvError) => {
                let _ = worker.join();
                Err(worker_lost())
            }
        }
    }

    /// Runs `job` on the worker thread and returns its result; a panic in the
    /// job is resumed here, as it would unwind out of wasmi or wasmtime.
    fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut LocalInstance) -> R + Send + 'static,
    ) -> Result<R> {
        let (reply, answer) = mpsc::sync_channel::<Reply<R>>(1);
        let job: Job = Box::new(move |local| {
            let _ = reply.send(panic::catch_unwind(AssertUnwindSafe(|| job(local))));
        });
        let jobs = self.jobs.as_ref().ok_or_else(worker_lost)?;
        jobs.send(job).map_err(|_| worker_lost())?;
        match answer.recv() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => panic::resume_unwind(panic),
            Err(mpsc::RecvError) => Err(worker_lost()),
        }
    }
}

/// The worker thread is gone. It ends only when its handle is dropped, or
/// when a panic escapes it outside any job (each job's is caught): then
/// the instance is lost, as after a panic through a call.
fn worker_lost() -> Error {
    Error::new(
        ErrorKind::Poisoned,
        "the thread that owns the wasmer instance has stopped (a panic outside a call); \
         the instance refuses every operation: make a new one",
    )
}

impl Drop for WasmerInstance {
    fn drop(&mut self) {
        // Every job is waited for, so the worker is idle: closing its inbox
        // ends its loop at once, and joining frees the store before we return.
        drop(self.jobs.take());
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Instance for WasmerInstance {
    fn open_stream(&mut self, source: BoxedSource, options: StreamOptions) -> Result<i64> {
        self.run(move |local| local.open_stream(source, options))?
    }

    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let (export, args) = (export.to_owned(), args.to_vec());
        self.run(move |local| local.call(&export, &args))?
    }

    fn close_streams(&mut self) {
        // Only fails when the worker is gone, and its streams with it.
        let _ = self.run(|local| local.close_streams());
    }

    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
        self.run(move |local| local.read_memory(addr, len))?
    }

    fn memory_size(&self) -> u64 {
        // A lost worker has no memory left.
        self.run(|local| Instance::memory_size(local)).unwrap_or(0)
    }

    fn stats(&self) -> StreamStats {
        self.run(|local| local.stats()).unwrap_or_default()
    }

    fn instance_id(&self) -> i64 {
        self.instance_id
    }

    fn take_state(&mut self, index: usize) -> Result<BoxedState> {
        self.run(move |local| local.take_state(index))?
    }

    fn put_state(&mut self, index: usize, state: BoxedState) -> Result<()> {
        // The state is `Send + 'static`: it travels to the worker by value.
        self.run(move |local| local.put_state(index, state))?
    }
}
