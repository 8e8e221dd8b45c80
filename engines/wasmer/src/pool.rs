//! The `Send` instance: a handle to a store kept by one of a few worker
//! threads shared by all the instances of an engine.
//!
//! wasmer 7's `Store` is `!Send` (it holds `Rc`s, its VM objects raw
//! pointers; wasmer issue #7001), while refill-core's
//! `LinkedModule::Instance` must be `Send`. Without `unsafe`, the way to
//! have both is to keep each store on one thread. A [`WorkerPool`] (one per
//! engine, shared by its clones, modules and instances) starts at most
//! `workers` threads, each keeping any number of stores
//! ([`WasmerLocalInstance`]s) in a slab of its own; a [`WasmerInstance`] is
//! the handle (worker, slot) that sends each operation to its worker as a
//! closure and waits for the answer. Streaming itself runs on the worker
//! (host functions never leave it), so the hand-over costs once per call,
//! not per refill.

use std::cell::{Cell, RefCell};
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use refill_core::handover::receive;
use refill_core::host::BoxedState;
use refill_core::{
    BoxedSink, BoxedSource, Error, ErrorKind, Instance, Result, StreamOptions, StreamStats,
};

use crate::instance::WasmerLocalInstance;

/// One engine's worker threads, started on demand up to a bound; cloning
/// shares them.
#[derive(Clone, Debug)]
pub(crate) struct WorkerPool {
    shared: Arc<PoolShared>,
}

#[derive(Debug)]
struct PoolShared {
    /// At most this many workers.
    bound: usize,
    /// The workers started so far (a worker ends once neither the pool nor
    /// any instance of its holds it).
    workers: Mutex<Vec<Arc<Worker>>>,
    /// Where the search for the least loaded worker starts, turning at
    /// each instantiation so that ties go round.
    next: AtomicUsize,
}

/// One worker thread: its inbox, and how many live instances it keeps.
#[derive(Debug)]
struct Worker {
    jobs: mpsc::Sender<Job>,
    live: AtomicUsize,
    /// The worker's number in the process, as its thread knows it (never 0).
    id: usize,
}

/// An operation for a worker to run on its own thread.
type Job = Box<dyn FnOnce() + Send>;

/// What a job sends back: its result, or the panic it raised (a panicking
/// `StreamSource`, say), to be resumed on the caller's thread.
type Reply<R> = thread::Result<R>;

/// How long a worker that ran a job, and a caller that sent one, poll
/// their channel before they sleep ([`receive`]): a caller's operations
/// come in runs (a freenet call opens its streams, calls, reads the result:
/// four hand-overs), and waking a sleeping thread cost 90 µs per freenet
/// call without polling on a 2-vCPU VM, 20 µs with. Past it, both sleep
/// and cost nothing.
const POLL: Duration = Duration::from_micros(50);

/// Numbers the workers of the process, from 1.
static WORKER_IDS: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// On a worker thread, its number; 0 elsewhere.
    static THIS_WORKER: Cell<usize> = const { Cell::new(0) };
    /// On a worker thread, the stores it keeps.
    static STORES: RefCell<Slab> = const { RefCell::new(Slab::new()) };
}

/// A worker's stores, by slot. An instance is taken out of its slot while
/// an operation runs on it, so that the operation may reach other
/// instances of the same worker (a host function calling one, say) without
/// the slab being borrowed.
#[derive(Debug)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

#[derive(Debug)]
enum Slot {
    Free,
    Here(Box<WasmerLocalInstance>),
    /// Out of the slab while an operation runs on it.
    Busy,
}

impl Slab {
    const fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    fn insert(&mut self, local: Box<WasmerLocalInstance>) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Slot::Here(local);
                slot
            }
            None => {
                self.slots.push(Slot::Here(local));
                self.slots.len() - 1
            }
        }
    }

    fn take(&mut self, slot: usize) -> Result<Box<WasmerLocalInstance>> {
        match std::mem::replace(&mut self.slots[slot], Slot::Busy) {
            Slot::Here(local) => Ok(local),
            Slot::Busy => Err(Error::new(
                ErrorKind::Engine,
                "the wasmer instance is in the middle of an operation on this very thread \
                 (a host function or source reached back into its own instance)",
            )),
            Slot::Free => unreachable!("a live handle's slot is never free"),
        }
    }

    fn put(&mut self, slot: usize, local: Box<WasmerLocalInstance>) {
        self.slots[slot] = Slot::Here(local);
    }

    fn remove(&mut self, slot: usize) -> Option<Box<WasmerLocalInstance>> {
        match std::mem::replace(&mut self.slots[slot], Slot::Free) {
            Slot::Here(local) => {
                self.free.push(slot);
                Some(local)
            }
            // Dropped while an operation of its own runs (from inside it):
            // the operation puts it back, then it is gone with the thread.
            Slot::Busy => {
                self.slots[slot] = Slot::Busy;
                None
            }
            Slot::Free => None,
        }
    }
}

impl WorkerPool {
    /// A pool of at most `bound` workers; none is started yet.
    pub(crate) fn new(bound: NonZeroUsize) -> Self {
        Self {
            shared: Arc::new(PoolShared {
                bound: bound.get(),
                workers: Mutex::new(Vec::new()),
                next: AtomicUsize::new(0),
            }),
        }
    }

    /// A pool of one worker per core the system reports
    /// (`std::thread::available_parallelism`, 1 if it cannot tell).
    pub(crate) fn per_core() -> Self {
        Self::new(thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
    }

    /// The most workers it starts.
    pub(crate) fn bound(&self) -> usize {
        self.shared.bound
    }

    /// Whether `self` and `other` are the same pool.
    #[cfg(test)]
    pub(crate) fn shares(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// How many workers run, and how many instances each keeps.
    #[cfg(test)]
    pub(crate) fn loads(&self) -> Vec<usize> {
        let workers = self
            .shared
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        workers
            .iter()
            .map(|w| w.live.load(Ordering::Relaxed))
            .collect()
    }

    /// The worker a new instance goes to: an idle worker if one runs, a
    /// new one while fewer than the bound run, else the one keeping the
    /// fewest instances (ties in turn). Its count is raised already.
    fn assign(&self) -> Result<Arc<Worker>> {
        let shared = &*self.shared;
        let mut workers = shared
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let start = shared.next.fetch_add(1, Ordering::Relaxed);
        let least = (0..workers.len())
            .map(|k| &workers[(start + k) % workers.len()])
            .min_by_key(|w| w.live.load(Ordering::Relaxed))
            .filter(|w| w.live.load(Ordering::Relaxed) == 0 || workers.len() >= shared.bound)
            .cloned();
        let worker = match least {
            Some(worker) => worker,
            None => {
                let worker = Worker::start()?;
                workers.push(worker.clone());
                worker
            }
        };
        worker.live.fetch_add(1, Ordering::Relaxed);
        Ok(worker)
    }

    /// Instantiates with `instantiate` on a worker and returns the handle;
    /// a panic in `instantiate` is resumed here.
    pub(crate) fn instantiate(
        &self,
        instance_id: i64,
        instantiate: impl FnOnce() -> Result<WasmerLocalInstance> + Send + 'static,
    ) -> Result<WasmerInstance> {
        let worker = self.assign()?;
        let made = panic::catch_unwind(AssertUnwindSafe(|| {
            worker.run(move || {
                let local = instantiate()?;
                Ok(STORES.with_borrow_mut(|stores| stores.insert(Box::new(local))))
            })
        }));
        match made {
            Ok(Ok(slot)) => Ok(WasmerInstance {
                worker,
                slot,
                instance_id,
            }),
            Ok(Err(e)) => {
                worker.live.fetch_sub(1, Ordering::Relaxed);
                Err(e)
            }
            Err(panic) => {
                worker.live.fetch_sub(1, Ordering::Relaxed);
                panic::resume_unwind(panic)
            }
        }
    }
}

impl Worker {
    /// Starts a worker thread; it ends once its inbox is closed, that is
    /// when the pool and every instance it keeps are gone.
    fn start() -> Result<Arc<Self>> {
        let id = WORKER_IDS.fetch_add(1, Ordering::Relaxed);
        let (jobs, inbox) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name(format!("refill-wasmer-{id}"))
            .spawn(move || {
                THIS_WORKER.set(id);
                while let Ok(job) = receive(&inbox, POLL) {
                    job();
                }
                // Nothing is left (each handle removed its store), but free
                // the slab here, on the thread of its stores, not in a
                // thread-local destructor.
                drop(STORES.replace(Slab::new()));
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Instantiation,
                    format!("cannot start a worker thread for wasmer instances: {e}"),
                )
                .with_source(e)
            })?;
        Ok(Arc::new(Self {
            jobs,
            live: AtomicUsize::new(0),
            id,
        }))
    }

    /// Runs `job` on the worker's thread and returns what it returns: at
    /// once when called on that thread (from a host function, say), else
    /// sent there and waited for; a panic in the job is resumed here, as it
    /// would unwind out of wasmi or wasmtime.
    fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce() -> Result<R> + Send + 'static,
    ) -> Result<R> {
        if THIS_WORKER.get() == self.id {
            return job();
        }
        let (reply, answer) = mpsc::sync_channel::<Reply<Result<R>>>(1);
        let job: Job = Box::new(move || {
            let _ = reply.send(panic::catch_unwind(AssertUnwindSafe(job)));
        });
        self.jobs.send(job).map_err(|_| worker_lost())?;
        match receive(&answer, POLL) {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => panic::resume_unwind(panic),
            Err(mpsc::RecvError) => Err(worker_lost()),
        }
    }
}

/// The worker thread is gone. It ends only when nothing holds it, or when a
/// panic escapes it outside any job (each job's is caught): then its
/// instances are lost, as after a panic through a call.
fn worker_lost() -> Error {
    Error::new(
        ErrorKind::Poisoned,
        "the thread that keeps the wasmer instance has stopped (a panic outside a call); \
         the instance refuses every operation: make a new one",
    )
}

/// One instance: a handle to the store kept by one of its engine's worker
/// threads, with its streams and its memory. It is `Send` and `Sync`; on
/// one thread, `LinkedModule::instantiate_local` on a [`crate::WasmerLinkedModule`] gives the
/// store itself, with no hand-over. Dropping the handle frees the store
/// (on its worker) before it returns.
///
/// A panic on the worker (of a stream source, say) is caught there and
/// resumed on the caller's thread, as it would unwind out of wasmi or
/// wasmtime: the worker lives on with its other instances, and
/// refill-core's call guard has poisoned this one, which refuses every
/// later call with [`ErrorKind::Poisoned`]. Should the worker itself be
/// gone, every operation that can fail answers [`ErrorKind::Poisoned`] too.
#[derive(Debug)]
pub struct WasmerInstance {
    worker: Arc<Worker>,
    slot: usize,
    instance_id: i64,
}

impl WasmerInstance {
    /// Runs `op` on the instance, on its worker's thread.
    fn run<R: Send + 'static>(
        &self,
        op: impl FnOnce(&mut WasmerLocalInstance) -> R + Send + 'static,
    ) -> Result<R> {
        let slot = self.slot;
        self.worker.run(move || on_slot(slot, op))
    }

    /// Runs `op` on the instance's worker without blocking the caller's
    /// thread: the returned future awaits its answer. A panic in `op` is
    /// resumed where the future is polled.
    #[cfg(feature = "async")]
    pub(crate) fn run_async<R: Send + 'static>(
        &self,
        op: impl FnOnce(&mut WasmerLocalInstance) -> R + Send + 'static,
    ) -> impl Future<Output = Result<R>> + Send + 'static {
        let slot = self.slot;
        let (reply, answer) = tokio::sync::oneshot::channel::<Reply<Result<R>>>();
        let job: Job = Box::new(move || {
            let _ = reply.send(panic::catch_unwind(AssertUnwindSafe(|| on_slot(slot, op))));
        });
        let sent = self.worker.jobs.send(job).map_err(|_| worker_lost());
        async move {
            sent?;
            match answer.await {
                Ok(Ok(value)) => value,
                Ok(Err(panic)) => panic::resume_unwind(panic),
                Err(_) => Err(worker_lost()),
            }
        }
    }
}

/// Runs `op` on the store in `slot` of this worker's slab; the store goes
/// back in its slot whether `op` returns or panics.
fn on_slot<R>(slot: usize, op: impl FnOnce(&mut WasmerLocalInstance) -> R) -> Result<R> {
    let mut local = STORES.with_borrow_mut(|stores| stores.take(slot))?;
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| op(&mut local)));
    STORES.with_borrow_mut(|stores| stores.put(slot, local));
    match outcome {
        Ok(value) => Ok(value),
        Err(panic) => panic::resume_unwind(panic),
    }
}

impl Drop for WasmerInstance {
    fn drop(&mut self) {
        let slot = self.slot;
        // Waited for, so that the store (its memory, its sources) is gone
        // when the handle is; dropped outside the slab's borrow, since its
        // sources and states run the embedder's `Drop`.
        let _ = self.worker.run(move || {
            drop(STORES.with_borrow_mut(|stores| stores.remove(slot)));
            Ok(())
        });
        self.worker.live.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Instance for WasmerInstance {
    fn open_stream(&mut self, source: BoxedSource, options: StreamOptions) -> Result<i64> {
        self.run(move |local| local.open_stream(source, options))?
    }

    fn open_output(&mut self, sink: BoxedSink, options: StreamOptions) -> Result<i64> {
        self.run(move |local| local.open_output(sink, options))?
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use refill_core::{
        Caller, Engine, EngineConfig, HostFunctions, InstanceConfig, LinkedModule, Module,
    };

    use super::*;
    use crate::WasmerEngine;

    const CALM: &str = r#"(module (memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
        (func (export "calm") (result i64) (i64.const 7)))"#;

    fn engine(workers: usize) -> WasmerEngine {
        WasmerEngine::new().with_worker_threads(NonZeroUsize::new(workers).expect("non-zero"))
    }

    fn calm(engine: &WasmerEngine) -> crate::WasmerLinkedModule {
        let wasm = wat::parse_str(CALM).expect("test module");
        let module = engine.compile(&wasm).expect("compiles");
        module.link(&HostFunctions::new()).expect("links")
    }

    /// Workers start as instances need them, up to the bound; instances go
    /// to the least loaded; a dropped handle frees its slot; a pool's
    /// workers are shared by the engine's clones and modules.
    #[test]
    fn instances_spread_over_a_bounded_pool() {
        let engine = engine(2);
        assert_eq!(engine.worker_threads(), 2);
        let linked = calm(&engine.clone());
        let module = engine
            .clone()
            .compile(&wat::parse_str(CALM).expect("test module"));
        assert!(module.expect("compiles").workers.shares(&engine.workers));
        assert_eq!(
            engine.workers.loads(),
            [0; 0],
            "no worker before an instance"
        );
        let config = InstanceConfig::new();
        let first = linked.instantiate(&config).expect("instance");
        assert_eq!(engine.workers.loads(), [1]);
        // An idle worker is used before a new one starts.
        drop(first);
        assert_eq!(engine.workers.loads(), [0]);
        let mut instances: Vec<_> = (0..5)
            .map(|_| linked.instantiate(&config).expect("instance"))
            .collect();
        let mut loads = engine.workers.loads();
        loads.sort_unstable();
        assert_eq!(loads, [2, 3]);
        // Two instances made one after the other are on different workers,
        // so that two threads calling them run at once.
        assert!(!Arc::ptr_eq(&instances[0].worker, &instances[1].worker));
        for instance in &mut instances {
            assert_eq!(instance.call("calm", &[]).expect("call"), 7);
        }
        instances.truncate(1);
        assert_eq!(engine.workers.loads().iter().sum::<usize>(), 1);
        // A freed slot is taken again.
        let again = linked.instantiate(&config).expect("instance");
        assert_eq!(engine.workers.loads().iter().sum::<usize>(), 2);
        drop((instances, again));
        assert_eq!(engine.workers.loads(), [0, 0]);
    }

    /// A host function may use another instance kept by its own worker
    /// (the operation runs there and then, not sent to the busy worker).
    #[test]
    fn a_host_function_can_call_an_instance_of_its_own_worker() {
        let engine = engine(1);
        let other = Arc::new(Mutex::new(None::<WasmerInstance>));
        let wasm = wat::parse_str(
            r#"(module (import "env" "other" (func $other (result i64)))
            (memory (export "memory") 1)
            (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
            (func (export "run") (result i64) (i64.add (call $other) (i64.const 1))))"#,
        )
        .expect("test module");
        let mut host = HostFunctions::new();
        let reached = other.clone();
        host.func("env", "other", move |_: &mut Caller<'_>| -> Result<i64> {
            let mut other = reached.lock().expect("lock");
            let other = other.as_mut().expect("set");
            let seven = other.call("calm", &[])?;
            // Its memory and states answer too.
            assert_eq!(Instance::memory_size(other), 65_536);
            Ok(seven)
        });
        let linked = engine
            .compile(&wasm)
            .expect("compiles")
            .link(&host)
            .expect("links");
        let config = InstanceConfig::new();
        *other.lock().expect("lock") = Some(calm(&engine).instantiate(&config).expect("instance"));
        let mut instance = linked.instantiate(&config).expect("instance");
        assert_eq!(engine.workers.loads(), [2]);
        assert_eq!(instance.call("run", &[]).expect("call"), 8);
        // Dropped from the worker's own thread as well.
        drop(instance);
        other.lock().expect("lock").take();
        assert_eq!(engine.workers.loads(), [0]);
    }

    /// The local instance is the store on the caller's thread: no worker
    /// starts; it streams, stops at its deadline and works on.
    #[test]
    fn a_local_instance_needs_no_worker() {
        let engine = WasmerEngine::with_config(&EngineConfig::default()).expect("engine");
        let wasm = wat::parse_str(
            r#"(module (memory (export "memory") 1)
            (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
            (func (export "calm") (result i64) (i64.const 7))
            (func (export "spin") (result i64) (loop $l (br $l)) (i64.const 0)))"#,
        )
        .expect("test module");
        let linked = engine
            .compile(&wasm)
            .expect("compiles")
            .link(&HostFunctions::new())
            .expect("links");
        let limits = refill_core::Limits::default()
            .with_deadline(Some(std::time::Duration::from_millis(50)));
        let mut local = linked
            .instantiate_local(&InstanceConfig::new().with_limits(limits))
            .expect("instance");
        assert_eq!(local.call("calm", &[]).expect("call"), 7);
        let e = local.call("spin", &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
        assert_eq!(local.call("calm", &[]).expect("call"), 7);
        assert_eq!(engine.workers.loads(), [0; 0]);
    }

    /// Deadlines stop the right store when one worker keeps several and
    /// two of them run on two workers at once.
    #[test]
    fn deadlines_stop_the_right_store_of_a_worker() {
        let engine = engine(2);
        let wasm = wat::parse_str(
            r#"(module (memory (export "memory") 1)
            (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
            (func (export "calm") (result i64) (i64.const 7))
            (func (export "spin") (result i64) (loop $l (br $l)) (i64.const 0)))"#,
        )
        .expect("test module");
        let linked = engine
            .compile(&wasm)
            .expect("compiles")
            .link(&HostFunctions::new())
            .expect("links");
        let limits = |ms| {
            InstanceConfig::new().with_limits(
                refill_core::Limits::default()
                    .with_deadline(Some(std::time::Duration::from_millis(ms))),
            )
        };
        // Four instances, two per worker.
        let mut instances: Vec<_> = [60, 60, 400, 400]
            .into_iter()
            .map(|ms| linked.instantiate(&limits(ms)).expect("instance"))
            .collect();
        std::thread::scope(|scope| {
            let (short, long) = instances.split_at_mut(2);
            for (fast, slow) in short.iter_mut().zip(long.iter_mut()) {
                scope.spawn(move || {
                    let started = std::time::Instant::now();
                    let e = fast.call("spin", &[]).unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
                    assert!(started.elapsed() < std::time::Duration::from_millis(350));
                    // The other store of the worker was not stopped by it.
                    assert_eq!(slow.call("calm", &[]).expect("call"), 7);
                    let e = slow.call("spin", &[]).unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
                    assert_eq!(fast.call("calm", &[]).expect("call"), 7);
                });
            }
        });
    }
}
