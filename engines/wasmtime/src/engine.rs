//! The wasmtime engine, its compiled modules and their linked form.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::limits::count_exceeded;
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostFunctions, Import, InstanceConfig, Limits, Linkage,
    LinkedModule, Module, Pooling, Result,
};
use wasmtime::{InstancePre, Linker, Store};

use crate::error::{engine_error, from_call, from_instantiation};
use crate::import::{define, import_type};
use crate::instance::WasmtimeInstance;
use crate::memory::GuestLimiter;
use crate::state::{CallLimits, EPOCH_TICK, StoreData, prepare_call, watch_deadlines};

/// The wasmtime JIT (Cranelift), configured for refill.
#[derive(Clone, Debug)]
pub struct WasmtimeEngine {
    pub(crate) engine: wasmtime::Engine,
    /// Whether the engine was built with `consume_fuel`, so that
    /// `Limits::fuel` can be enforced.
    pub(crate) fuel_metering: bool,
    /// The engine's epoch ticker, when it was built with epoch
    /// interruption (so that `Limits::deadline` can be enforced).
    pub(crate) ticker: Option<Arc<EpochTicker>>,
    /// The engine's instance pool, when it was built with one.
    pooling: Option<Pooling>,
}

/// [`WasmtimeEngine::new`].
impl Default for WasmtimeEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl WasmtimeEngine {
    /// An engine built for [`EngineConfig::default`]: epoch interruption
    /// for deadlines, a bounded stack, no fuel metering.
    pub fn new() -> Self {
        // The default configuration always builds.
        Self::with_config(&EngineConfig::default()).unwrap_or_else(|_| Self {
            engine: wasmtime::Engine::default(),
            fuel_metering: false,
            ticker: None,
            pooling: None,
        })
    }

    /// An engine built for `config`.
    pub fn with_config(config: &EngineConfig) -> Result<Self> {
        let mut wasmtime_config = wasmtime::Config::new();
        wasmtime_config.consume_fuel(config.fuel_metering);
        wasmtime_config.wasm_custom_page_sizes(config.custom_page_sizes);
        wasmtime_config.epoch_interruption(config.interruption);
        // Guest frames live on the host thread's stack: wasmtime traps with
        // a stack overflow before they take more than this, whatever the
        // host thread's own stack.
        let stack = usize::try_from(config.max_stack_bytes).unwrap_or(usize::MAX);
        wasmtime_config.max_wasm_stack(stack.max(64 << 10));
        if let Some(pooling) = config.pooling {
            wasmtime_config.allocation_strategy(pool(pooling));
        }
        let engine = wasmtime::Engine::new(&wasmtime_config)
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot build the engine", e))?;
        let ticker = config
            .interruption
            .then(|| Arc::new(EpochTicker::new(engine.clone())));
        Ok(Self {
            engine,
            fuel_metering: config.fuel_metering,
            ticker,
            pooling: config.pooling,
        })
    }

    /// An engine over an existing wasmtime engine (own configuration). Fuel
    /// limits work if it was built with `Config::consume_fuel(true)`;
    /// deadlines do not (wasmtime does not say whether an engine checks
    /// epochs, and one that does not could not be stopped): asking for one
    /// is `Unsupported`.
    pub fn from_engine(engine: wasmtime::Engine) -> Self {
        // wasmtime does not expose an engine's configuration; a store of a
        // metering engine is the one that has a fuel gauge.
        let fuel_metering = Store::new(&engine, ()).get_fuel().is_ok();
        Self {
            engine,
            fuel_metering,
            ticker: None,
            pooling: None,
        }
    }
}

/// The pooling allocator for `pooling`: every slot holds the most
/// memories and tables `Limits::default()` allows (one memory, four tables).
/// How much of a pool slot's memory stays resident after its instance
/// ends, to be reset in place.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

fn pool(pooling: Pooling) -> wasmtime::InstanceAllocationStrategy {
    let limits = Limits::default();
    let (memories, tables) = (limits.max_memories, limits.max_tables);
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_core_instances(pooling.instances)
        .total_memories(pooling.instances.saturating_mul(memories))
        .total_tables(pooling.instances.saturating_mul(tables))
        .max_memories_per_module(memories)
        .max_tables_per_module(tables)
        .max_memory_size(usize::try_from(pooling.memory_bytes).unwrap_or(usize::MAX))
        .table_elements(usize::try_from(pooling.table_elements).unwrap_or(usize::MAX))
        // An ended instance's slot is reset in place, its dirty pages only
        // (found with PAGEMAP_SCAN where the kernel has it), rather than
        // handed back with `madvise`: every `madvise` flushes the TLB of
        // every core running the process, which halved pooled calls' speed
        // (docs/benchmarks.md, "The per-call path"). Costs up to this much
        // resident memory per warm slot.
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    wasmtime::InstanceAllocationStrategy::Pooling(pool)
}

/// `limits`, lowered to what a slot of the engine's pool holds, so that an
/// instance needing more fails with the limit's kind (not an untyped pool
/// error) and growth past a slot traps like growth past the limits (the
/// pool alone would answer a silent -1).
fn within_pool(limits: &Limits, pool: Pooling) -> Limits {
    let slot = Limits::default();
    let mut limits = limits.clone();
    limits.max_memories = limits.max_memories.min(slot.max_memories);
    limits.max_tables = limits.max_tables.min(slot.max_tables);
    limits.max_memory_bytes = limits.max_memory_bytes.min(pool.memory_bytes);
    limits.max_table_elements = limits
        .max_table_elements
        .min(u64::from(pool.table_elements));
    limits
}

/// A module the engine's pool refused at compile time (it checks every
/// module against a slot): a memory or table larger than a slot holds, or
/// more of them, is the limit's kind; anything else stays `InvalidModule`.
/// wasmtime says which only in its message (the conformance case
/// `an_instance_pool_bounds_live_instances` notices if that changes).
fn outside_pool(error: wasmtime::Error) -> Error {
    let chain = format!("{error:#}");
    let (kind, what) = if chain.contains("module memory does not fit in pooling") {
        (ErrorKind::MemoryLimitExceeded, "a memory of the module")
    } else if chain.contains("module table does not fit in pooling") {
        (ErrorKind::TableLimitExceeded, "a table of the module")
    } else if chain.contains("does not fit in pooling") {
        (ErrorKind::InstanceLimitExceeded, "the module's instance")
    } else {
        return engine_error(
            ErrorKind::InvalidModule,
            "wasmtime rejected the module",
            error,
        );
    };
    Error::new(
        kind,
        format!(
            "{what} is larger than a slot of the engine's instance pool (EngineConfig::pooling)"
        ),
    )
    .with_source(error)
}

/// One engine's epoch ticker: a thread that advances the engine's epoch
/// every [`EPOCH_TICK`], so that running guests check their deadlines.
/// One per engine, shared by its modules and instances; started by the
/// first instance with a deadline, stopped when the last of them is gone.
pub(crate) struct EpochTicker {
    engine: wasmtime::Engine,
    thread: OnceLock<Ticking>,
}

struct Ticking {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

impl core::fmt::Debug for EpochTicker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EpochTicker")
            .field("running", &self.thread.get().is_some())
            .finish()
    }
}

impl EpochTicker {
    fn new(engine: wasmtime::Engine) -> Self {
        Self {
            engine,
            thread: OnceLock::new(),
        }
    }

    /// Starts the ticker unless it runs already.
    fn ensure_running(&self) -> Result<()> {
        if self.thread.get().is_some() {
            return Ok(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, stopping) = (self.engine.clone(), Arc::clone(&stop));
        let handle = thread::Builder::new()
            .name("refill-wasmtime-epoch".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    thread::park_timeout(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| {
                Error::new(ErrorKind::Engine, "cannot start the epoch ticker thread").with_source(e)
            })?;
        if let Err(Ticking { stop, handle }) = self.thread.set(Ticking { stop, handle }) {
            // Another instance started one first: this one is not needed.
            stop.store(true, Ordering::Relaxed);
            handle.thread().unpark();
        }
        Ok(())
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        if let Some(Ticking { stop, handle }) = self.thread.take() {
            stop.store(true, Ordering::Relaxed);
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

impl Engine for WasmtimeEngine {
    type Module = WasmtimeModule;

    fn name(&self) -> &'static str {
        "wasmtime"
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmtimeModule> {
        let module = wasmtime::Module::new(&self.engine, wasm).map_err(|e| match self.pooling {
            Some(_) => outside_pool(e),
            None => engine_error(ErrorKind::InvalidModule, "wasmtime rejected the module", e),
        })?;
        Ok(WasmtimeModule {
            engine: self.clone(),
            module,
        })
    }
}

/// A module compiled by wasmtime.
#[derive(Clone, Debug)]
pub struct WasmtimeModule {
    pub(crate) engine: WasmtimeEngine,
    pub(crate) module: wasmtime::Module,
}

impl Module for WasmtimeModule {
    type Linked = WasmtimeLinkedModule;

    fn imports(&self) -> Vec<Import> {
        self.module
            .imports()
            .map(|i| Import {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                ty: import_type(&i.ty()),
            })
            .collect()
    }

    fn link(&self, host: &HostFunctions) -> Result<WasmtimeLinkedModule> {
        let linkage = host.link(&self.imports())?;
        let mut linker = Linker::<StoreData>::new(&self.engine.engine);
        for func in linkage.funcs() {
            #[cfg(feature = "async")]
            let defined = if host.is_async()
                && refill_core::asynchronous::is_stream_import(func.module(), func.name())
            {
                crate::asynchronous::define_waiting(&mut linker, func)
            } else {
                define(&mut linker, func)
            };
            #[cfg(not(feature = "async"))]
            let defined = define(&mut linker, func);
            defined
                .map_err(|e| engine_error(ErrorKind::Engine, "cannot define a host function", e))?;
        }
        let pre = linker.instantiate_pre(&self.module).map_err(|e| {
            engine_error(
                ErrorKind::MissingImport,
                "wasmtime cannot link the module",
                e,
            )
        })?;
        Ok(WasmtimeLinkedModule {
            engine: self.engine.clone(),
            pre,
            linkage,
            is_async: host.is_async(),
        })
    }
}

/// A wasmtime module linked against host functions: wasmtime's
/// `InstancePre`, whose imports are resolved once, for cheap
/// instantiations.
#[derive(Clone)]
pub struct WasmtimeLinkedModule {
    engine: WasmtimeEngine,
    pre: InstancePre<StoreData>,
    linkage: Linkage,
    /// Linked for async calls: its stream imports are async host functions.
    is_async: bool,
}

// By hand: wasmtime's `InstancePre` is not `Debug`.
impl core::fmt::Debug for WasmtimeLinkedModule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WasmtimeLinkedModule")
            .field("engine", &self.engine)
            .field("module", self.pre.module())
            .field("linkage", &self.linkage)
            .field("is_async", &self.is_async)
            .finish()
    }
}

impl LinkedModule for WasmtimeLinkedModule {
    type Instance = WasmtimeInstance;
    // Already `Send`: the local instance is the same, with no cost to moving.
    type LocalInstance = WasmtimeInstance;

    fn instantiate_local(&self, config: &InstanceConfig) -> Result<WasmtimeInstance> {
        self.instantiate(config)
    }

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmtimeInstance> {
        let pooled = self
            .engine
            .pooling
            .map(|pool| within_pool(&config.limits, pool));
        let limits = pooled.as_ref().unwrap_or(&config.limits);
        check_counts(self.pre.module(), limits)?;
        let call_limits = CallLimits {
            fuel: limits.fuel_per_call(self.engine.fuel_metering)?,
            deadline: limits.deadline_per_call(self.engine.ticker.is_some())?,
            epochs: self.engine.ticker.is_some(),
        };
        if let (Some(ticker), Some(_)) = (&self.engine.ticker, call_limits.deadline) {
            ticker.ensure_running()?;
        }
        let host = self.linkage.new_host_data(config)?;
        let instance_id = host.streams().instance_id();
        let mut store = Store::new(
            &self.engine.engine,
            StoreData {
                host,
                memory: None,
                limiter: GuestLimiter::new(limits),
                stop_at: None,
            },
        );
        store.limiter(|state| &mut state.limiter);
        if call_limits.epochs {
            watch_deadlines(&mut store);
        }
        // `instantiate` also runs the start function, like wasmi's
        // `Instance::new`: it gets a budget and a deadline of its own.
        prepare_call(&mut store, &call_limits)?;
        let instance = sync_or_now!(
            self.is_async,
            self.pre.instantiate(&mut store),
            self.pre.instantiate_async(&mut store)
        )?
        .map_err(from_instantiation)?;

        let memory = instance
            .get_memory(&mut store, MEMORY)
            .ok_or_else(|| Error::missing_export(MEMORY))?;
        store.data_mut().memory = Some(memory);

        let initiate_buffer = instance
            .get_func(&mut store, INITIATE_BUFFER)
            .ok_or_else(|| Error::missing_export(INITIATE_BUFFER))?;
        let initiate_buffer = initiate_buffer.typed::<u32, i64>(&store).map_err(|_| {
            Error::signature_mismatch(INITIATE_BUFFER, "(i32) -> i64", initiate_buffer.ty(&store))
        })?;

        if let Some(set_id) = instance.get_func(&mut store, SET_ID) {
            let typed = set_id
                .typed::<i64, ()>(&store)
                .map_err(|_| Error::signature_mismatch(SET_ID, "(i64) -> ()", set_id.ty(&store)))?;
            prepare_call(&mut store, &call_limits)?;
            sync_or_now!(
                self.is_async,
                typed.call(&mut store, instance_id),
                typed.call_async(&mut store, instance_id)
            )?
            .map_err(from_call)?;
        }
        Ok(WasmtimeInstance::new(
            store,
            instance,
            memory,
            initiate_buffer,
            call_limits,
            self.engine.ticker.clone(),
            self.is_async,
        ))
    }
}

/// Refuses a module with more memories or tables than `limits` allow, with
/// the kind of the limit (wasmtime's own count check would fail the
/// instantiation with an untyped error). The module can import neither:
/// refill serves functions only.
fn check_counts(module: &wasmtime::Module, limits: &Limits) -> Result<()> {
    let required = module.resources_required();
    if required.num_memories > limits.max_memories {
        return Err(count_exceeded(
            "memories",
            Some(required.num_memories.into()),
            limits.max_memories,
        ));
    }
    if required.num_tables > limits.max_tables {
        return Err(count_exceeded(
            "tables",
            Some(required.num_tables.into()),
            limits.max_tables,
        ));
    }
    if limits.max_instances == 0 {
        return Err(count_exceeded("instances", Some(1), 0));
    }
    Ok(())
}
