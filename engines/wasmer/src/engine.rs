//! The wasmer engine, its compiled modules and their linked form.

use std::num::NonZeroUsize;

use refill_core::abi::{INITIATE_BUFFER, MEMORY};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostData, HostFunctions, Import, InstanceConfig,
    Limits, Linkage, LinkedModule, Module, Result,
};
use wasmer::sys::NativeEngineExt;
use wasmer::{Extern, FunctionEnv, Store};

use crate::error::engine_error;
use crate::import::{bind, import_type};
use crate::instance::WasmerLocalInstance;
use crate::limits::{
    CAN_INTERRUPT, Deadline, DeadlineTimer, Declared, InstanceLimits, Layout, check_module,
    singlepass_compiler,
};
use crate::pool::{WasmerInstance, WorkerPool};
use crate::state::StoreData;
use crate::unchecked::StackTunables;

/// wasmer with its singlepass compiler, configured for refill.
///
/// Each compilation gets a wasmer engine of its own, with the middlewares
/// that enforce refill's limits (see `limits.rs`): they record where they put
/// their globals in the one module they transform, so they cannot be shared
/// between modules. The deadline timer is the engine's own, shared by its
/// clones, modules and instances; so are the worker threads that keep the
/// stores of its `Send` instances ([`WasmerEngine::with_worker_threads`]).
#[derive(Clone, Debug)]
pub struct WasmerEngine {
    pub(crate) backend: Backend,
    /// Stops calls at their deadline; `None` when the engine was built
    /// without interruption (or wasmer cannot interrupt here).
    pub(crate) deadlines: Option<DeadlineTimer>,
    /// The threads that keep the stores of its [`WasmerInstance`]s.
    pub(crate) workers: WorkerPool,
}

/// How a [`WasmerEngine`] compiles.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// Singlepass with refill's middlewares, fuel metering when
    /// `fuel_metering`, guest stacks of `stack_bytes`.
    Singlepass {
        fuel_metering: bool,
        stack_bytes: usize,
    },
    /// An engine of the embedder's, without refill's middlewares.
    Custom(wasmer::Engine),
}

/// The smallest and largest guest stacks wasmer 7.4 makes (those of its
/// `set_stack_size`).
const STACK_BYTES: std::ops::RangeInclusive<u32> = (8 << 10)..=(100 << 20);

// By hand: `wasmer::Engine::default()` takes the first compiler wasmer was
// built with (cranelift, llvm, then singlepass), which cargo's feature
// unification elsewhere in a build could change. refill wants singlepass.
impl Default for WasmerEngine {
    /// The engine of `EngineConfig::default()`: interruptible (so that
    /// `Limits::default()`'s deadline holds), 512 KiB guest stacks, no fuel
    /// metering.
    fn default() -> Self {
        // The checks of `with_config` pass for the defaults (tested).
        Self::configured(&EngineConfig::default())
    }
}

impl WasmerEngine {
    /// The engine of `EngineConfig::default()`, as [`WasmerEngine::default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine with wasmer's singlepass compiler built for `config`.
    pub fn with_config(config: &EngineConfig) -> Result<Self> {
        if config.pooling.is_some() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "wasmer 7.4 has no instance pool; the pooling allocator is wasmtime's",
            ));
        }
        if config.custom_page_sizes {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "wasmer 7.4 does not implement the custom-page-sizes proposal \
                 (use wasmi or wasmtime for guests with 1-byte pages)",
            ));
        }
        if !STACK_BYTES.contains(&config.max_stack_bytes) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "wasmer 7.4 makes guest stacks of {} to {} bytes, not {}",
                    STACK_BYTES.start(),
                    STACK_BYTES.end(),
                    config.max_stack_bytes
                ),
            ));
        }
        Ok(Self::configured(config))
    }

    /// The engine for a `config` that passed the checks of `with_config`.
    fn configured(config: &EngineConfig) -> Self {
        Self {
            backend: Backend::Singlepass {
                fuel_metering: config.fuel_metering,
                stack_bytes: config.max_stack_bytes as usize,
            },
            deadlines: (config.interruption && CAN_INTERRUPT).then(DeadlineTimer::default),
            workers: WorkerPool::per_core(),
        }
    }

    /// An engine over an existing wasmer engine (own compiler, own
    /// configuration, own guest stack size). It has none of refill's
    /// middlewares, so its instances can have no fuel limit, and only memory
    /// and table limits their module cannot grow past anyway: asking for
    /// more is [`ErrorKind::Unsupported`]. Deadlines work as on any engine.
    pub fn from_engine(engine: wasmer::Engine) -> Self {
        Self {
            backend: Backend::Custom(engine),
            deadlines: CAN_INTERRUPT.then(DeadlineTimer::default),
            workers: WorkerPool::per_core(),
        }
    }

    /// The same engine whose `Send` instances ([`WasmerInstance`]) are kept
    /// by at most `threads` worker threads, shared by its clones, modules
    /// and instances (modules compiled before keep the engine's former
    /// workers). By default, one per core
    /// (`std::thread::available_parallelism`). A worker starts when an
    /// instance needs it (a new instance goes to an idle worker, a new one
    /// while fewer than `threads` run, else to the one keeping the fewest
    /// instances) and ends with the last engine, module and instance that
    /// could use it. Calls to instances of one worker take turns, so as
    /// many threads as call at once is the most that helps.
    /// [`WasmerLinkedModule::instantiate_local`] needs no worker at all.
    #[must_use]
    pub fn with_worker_threads(mut self, threads: NonZeroUsize) -> Self {
        self.workers = WorkerPool::new(threads);
        self
    }

    /// The most worker threads its `Send` instances are kept by.
    pub fn worker_threads(&self) -> usize {
        self.workers.bound()
    }

    /// Whether the engine meters fuel, so that its instances can have
    /// [`refill_core::Limits::fuel`].
    pub fn fuel_metering(&self) -> bool {
        matches!(
            self.backend,
            Backend::Singlepass {
                fuel_metering: true,
                ..
            }
        )
    }
}

impl Engine for WasmerEngine {
    type Module = WasmerModule;

    fn name(&self) -> &'static str {
        "wasmer"
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmerModule> {
        let (engine, limiter) = match &self.backend {
            Backend::Singlepass {
                fuel_metering,
                stack_bytes,
            } => {
                let (compiler, limiter) = singlepass_compiler(*fuel_metering);
                let mut engine: wasmer::Engine = compiler.into();
                engine.set_tunables(StackTunables::new(*stack_bytes));
                (engine, Some(limiter))
            }
            Backend::Custom(engine) => (engine.clone(), None),
        };
        // `from_binary`, not `new`: `new` also parses text when wasmer's `wat`
        // feature is on, and refill takes binaries only.
        let module = wasmer::Module::from_binary(&engine, wasm).map_err(|e| {
            match limiter.as_ref().and_then(|limiter| limiter.refusal()) {
                Some(refusal) => refusal.with_source(e),
                None => engine_error(ErrorKind::InvalidModule, "wasmer rejected the module", e),
            }
        })?;
        let (layout, declared) = match limiter {
            Some(limiter) => {
                let (layout, declared) = limiter.record()?;
                (Some(layout), declared)
            }
            None => (None, Declared::parse(wasm)?),
        };
        Ok(WasmerModule {
            engine,
            module,
            workers: self.workers.clone(),
            limiting: Limiting {
                layout,
                declared,
                metered: self.fuel_metering(),
                deadlines: self.deadlines.clone(),
            },
        })
    }
}

/// What a module's instances are limited with.
#[derive(Clone, Debug)]
pub(crate) struct Limiting {
    /// What refill's limiter did to the module (`None`: compiled by an
    /// engine from [`WasmerEngine::from_engine`], without it).
    pub(crate) layout: Option<Layout>,
    /// The memories and tables the module declares.
    pub(crate) declared: Declared,
    /// Whether the module was compiled with fuel metering.
    pub(crate) metered: bool,
    /// The engine's deadline timer, if it interrupts.
    pub(crate) deadlines: Option<DeadlineTimer>,
}

impl Limiting {
    /// Checks `limits` before instantiating: what the instance will need
    /// to enforce them, and the module itself.
    fn check(&self, limits: &Limits) -> Result<(Option<u64>, Option<Deadline>)> {
        check_module(self.layout.as_ref(), &self.declared, limits)?;
        let fuel = limits.fuel_per_call(self.metered)?;
        let deadline = limits
            .deadline_per_call(self.deadlines.is_some())?
            .zip(self.deadlines.as_ref())
            .map(|(after, timer)| timer.deadline(after));
        Ok((fuel, deadline))
    }
}

/// A module compiled by wasmer.
#[derive(Clone, Debug)]
pub struct WasmerModule {
    pub(crate) engine: wasmer::Engine,
    pub(crate) module: wasmer::Module,
    /// The workers of the engine that compiled it.
    pub(crate) workers: WorkerPool,
    pub(crate) limiting: Limiting,
}

impl Module for WasmerModule {
    type Linked = WasmerLinkedModule;

    fn imports(&self) -> Vec<Import> {
        self.module
            .imports()
            .map(|i| Import {
                module: i.module().to_owned(),
                name: i.name().to_owned(),
                ty: import_type(i.ty()),
            })
            .collect()
    }

    fn link(&self, host: &HostFunctions) -> Result<WasmerLinkedModule> {
        // wasmer has no counterpart of wasmtime's `InstancePre` (a function
        // belongs to one store, and each instance has a store of its own):
        // linking resolves the imports once, by name, and each instantiation
        // binds them by position.
        Ok(WasmerLinkedModule {
            engine: self.engine.clone(),
            module: self.module.clone(),
            workers: self.workers.clone(),
            limiting: self.limiting.clone(),
            linkage: host.link(&self.imports())?,
        })
    }
}

/// A wasmer module linked against host functions: its imports resolved
/// once, so that each instantiation only binds them, in import order.
#[derive(Clone, Debug)]
pub struct WasmerLinkedModule {
    engine: wasmer::Engine,
    module: wasmer::Module,
    workers: WorkerPool,
    limiting: Limiting,
    /// The host function of each import, in the module's import order.
    linkage: Linkage,
}

impl LinkedModule for WasmerLinkedModule {
    type Instance = WasmerInstance;
    type LocalInstance = WasmerLocalInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmerInstance> {
        let (fuel, deadline) = self.limiting.check(&config.limits)?;
        // Made here, not on the worker: the handle keeps the id.
        let host = self.linkage.new_host_data(config)?;
        let instance_id = host.streams().instance_id();
        // The store is `!Send`: it is created, used and dropped on one of
        // the engine's worker threads (see `pool.rs`).
        let (linked, limits) = (self.clone(), config.limits.clone());
        self.workers.instantiate(instance_id, move || {
            linked.instantiate_here(host, &limits, fuel, deadline)
        })
    }

    /// The store itself, on the calling thread: no worker, no hand-over.
    fn instantiate_local(&self, config: &InstanceConfig) -> Result<WasmerLocalInstance> {
        let (fuel, deadline) = self.limiting.check(&config.limits)?;
        let host = self.linkage.new_host_data(config)?;
        self.instantiate_here(host, &config.limits, fuel, deadline)
    }
}

impl WasmerLinkedModule {
    /// Instantiates the module on the calling thread, which owns the result.
    fn instantiate_here(
        &self,
        host: HostData,
        limits: &Limits,
        fuel: Option<u64>,
        deadline: Option<Deadline>,
    ) -> Result<WasmerLocalInstance> {
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(&mut store, StoreData { host, memory: None });
        // One function per import, in the module's import order: no lookups
        // by name.
        let externs: Vec<Extern> = self
            .linkage
            .funcs()
            .iter()
            .map(|func| Extern::Function(bind(&mut store, &env, func)))
            .collect();
        // Instantiating also runs the start function, like wasmi's
        // `instantiate_and_start`; refill's limiter has moved it to an
        // export, run below once the limits are set.
        let instance =
            wasmer::Instance::new_by_index(&mut store, &self.module, &externs).map_err(|e| {
                // The cause in the message too (out of memory mappings, say):
                // a one-line report shows no source.
                let message = format!("wasmer cannot instantiate the module: {e}");
                engine_error(ErrorKind::Instantiation, &message, e)
            })?;
        let layout = self.limiting.layout.as_ref();
        let limits =
            InstanceLimits::install(&mut store, &instance, layout, limits, fuel, deadline)?;

        let memory = instance
            .exports
            .get_memory(MEMORY)
            .map_err(|_| Error::missing_export(MEMORY))?
            .clone();
        env.as_mut(&mut store).memory = Some(memory.clone());

        let initiate_buffer = instance
            .exports
            .get_function(INITIATE_BUFFER)
            .map_err(|_| Error::missing_export(INITIATE_BUFFER))?;
        let initiate_buffer = initiate_buffer.typed::<u32, i64>(&store).map_err(|_| {
            Error::signature_mismatch(INITIATE_BUFFER, "(i32) -> i64", initiate_buffer.ty(&store))
        })?;

        let mut local =
            WasmerLocalInstance::new(store, env, instance, memory, initiate_buffer, limits);
        local.start()?;
        local.set_id()?;
        Ok(local)
    }
}

#[cfg(test)]
mod tests {
    use refill_core::abi::{FILL_BUFFER, IMPORT_MODULE};
    use refill_core::{
        BytesSource, Caller, FuncType, ImportType, Instance, InstanceExt, StreamOptions,
        StreamSource, ValType,
    };

    use super::*;

    const PRELUDE: &str = r#"(memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)"#;

    fn compile(body: &str) -> WasmerModule {
        let wasm = wat::parse_str(format!("(module {body} {PRELUDE})")).expect("test module");
        WasmerEngine::new().compile(&wasm).expect("compiles")
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn embedders_host_functions_get_and_return_every_value_type() {
        assert_send_sync::<WasmerLinkedModule>();
        let module = compile(
            r#"(import "env" "mix" (func $mix (param i32 i64 f32 f64) (result i64)))
            (import "env" "next_i32" (func $next_i32 (param i32) (result i32)))
            (import "env" "next_i64" (func $next_i64 (param i64) (result i64)))
            (import "env" "next_f32" (func $next_f32 (param f32) (result f32)))
            (import "env" "next_f64" (func $next_f64 (param f64) (result f64)))
            (func (export "run") (result i64)
              (i32.store (i32.const 0) (call $next_i32 (i32.const -7)))
              (i64.store (i32.const 8) (call $next_i64 (i64.const 0x1_0000_0001)))
              (f32.store (i32.const 16) (call $next_f32 (f32.const 1.5)))
              (f64.store (i32.const 24) (call $next_f64 (f64.const -2.25)))
              ;; A NaN's payload passes through unchanged.
              (f32.store (i32.const 32) (call $next_f32 (f32.const nan:0x200001)))
              (call $mix (i32.const -7) (i64.const 0x1_0000_0001) (f32.const 1.5) (f64.const -2.25)))"#,
        );
        let mut host = HostFunctions::new();
        let seen = host.state(Vec::<(i32, i64, f32, f64)>::new);
        host.func(
            "env",
            "mix",
            move |caller: &mut Caller<'_>, a: i32, b: i64, c: f32, d: f64| -> Result<i64> {
                caller.state(seen)?.push((a, b, c, d));
                // The caller's memory is the calling instance's own.
                caller.write(40, b"host")?;
                Ok(42)
            },
        );
        host.func(
            "env",
            "next_i32",
            |_: &mut Caller<'_>, a: i32| -> Result<i32> { Ok(a - 1) },
        );
        host.func(
            "env",
            "next_i64",
            |_: &mut Caller<'_>, b: i64| -> Result<i64> { Ok(b * 2) },
        );
        host.func(
            "env",
            "next_f32",
            |_: &mut Caller<'_>, c: f32| -> Result<f32> {
                Ok(if c.is_nan() { c } else { c * 2.0 })
            },
        );
        host.func(
            "env",
            "next_f64",
            |_: &mut Caller<'_>, d: f64| -> Result<f64> { Ok(d + 0.5) },
        );
        let linked = module.link(&host).expect("links");
        let mut instance = linked
            .instantiate(&InstanceConfig::new())
            .expect("instance");
        assert_eq!(instance.call("run", &[]).expect("call"), 42);

        let memory = instance.read_memory(0, 44).expect("read");
        let word = |at: usize| u32::from_le_bytes(memory[at..at + 4].try_into().unwrap());
        let double = |at: usize| u64::from_le_bytes(memory[at..at + 8].try_into().unwrap());
        assert_eq!(word(0) as i32, -8);
        assert_eq!(double(8) as i64, 0x2_0000_0002);
        assert_eq!(f32::from_bits(word(16)), 3.0);
        assert_eq!(f64::from_bits(double(24)), -1.75);
        assert_eq!(word(32), 0x7fa0_0001);
        assert_eq!(&memory[40..], b"host");
        let calls = instance
            .with_state(seen, |calls| calls.clone())
            .expect("state");
        assert_eq!(calls, [(-7, 0x1_0000_0001, 1.5, -2.25)]);

        // A second instance of the same linked module has state of its own.
        let mut other = linked
            .instantiate(&InstanceConfig::new())
            .expect("instance");
        assert_ne!(other.instance_id(), instance.instance_id());
        assert_eq!(
            other.with_state(seen, |calls| calls.len()).expect("state"),
            0
        );
    }

    /// What a panic in a call leaves: either the panic, resumed on the
    /// caller's thread (never the worker's), or refill-core's `Poisoned`
    /// error (where it catches the panic at a host function's boundary);
    /// never a hang or an abort. Every later call is `Poisoned`.
    fn assert_panic_poisons(
        instance: &mut WasmerInstance,
        call: impl FnOnce(&mut WasmerInstance) -> Result<i64>,
    ) {
        let caller = std::thread::current().id();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call(instance))) {
            Err(panic) => {
                assert_eq!(std::thread::current().id(), caller);
                assert_eq!(panic.downcast_ref::<&str>(), Some(&"the embedder's bug"));
            }
            Ok(Err(e)) => assert_eq!(e.kind(), ErrorKind::Poisoned, "{e}"),
            Ok(Ok(value)) => panic!("the call returned {value}"),
        }
        for _ in 0..2 {
            let e = instance.call("calm", &[]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Poisoned, "{e}");
            let source = Box::new(BytesSource::new(vec![0; 8]));
            let e = instance
                .open_stream(source, StreamOptions::new())
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Poisoned, "{e}");
        }
        // The worker lives on: what does not run the guest still answers.
        assert_eq!(Instance::memory_size(instance), 65_536);
        assert_eq!(instance.read_memory(0, 4).expect("read").len(), 4);
    }

    /// A source that delivers its first `good` reads, then panics.
    struct PanickingSource {
        good: usize,
    }

    impl StreamSource for PanickingSource {
        fn total_len(&self) -> u64 {
            1 << 20
        }

        fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
            if self.good == 0 {
                panic!("the embedder's bug");
            }
            self.good -= 1;
            dst.fill(7);
            Ok(())
        }
    }

    /// A guest that streams: its buffer's descriptor at 0, cursors at 32
    /// and 40, data from 64; `pull` refills once.
    const STREAMING: &str = r#"
        (import "freenet_contract_io" "__frnt__fill_buffer" (func $fill (param i64 i64) (result i32)))
        (memory (export "memory") 1)
        (global $id (mut i64) (i64.const 0))
        (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
        (func (export "__frnt__initiate_buffer") (param i32) (result i64)
          (i64.store (i32.const 0) (i64.const 64))
          (i32.store (i32.const 8) (local.get 0))
          (i64.store (i32.const 16) (i64.const 32))
          (i64.store (i32.const 24) (i64.const 40))
          (i64.const 0))
        (func (export "pull") (param i64) (result i64)
          (i64.extend_i32_u (call $fill (global.get $id) (local.get 0))))
        (func (export "calm") (result i64) (i64.const 7))"#;

    #[test]
    fn a_host_functions_panic_poisons_the_instance() {
        assert_send_sync::<WasmerInstance>();
        let module = compile(
            r#"(import "env" "boom" (func $boom))
            (func (export "boom") (result i64) (call $boom) (i64.const 0))
            (func (export "calm") (result i64) (i64.const 7))"#,
        );
        let mut host = HostFunctions::new();
        host.func("env", "boom", |_: &mut Caller<'_>| -> Result<()> {
            panic!("the embedder's bug")
        });
        let mut instance = module
            .link(&host)
            .expect("links")
            .instantiate(&InstanceConfig::new())
            .expect("instance");
        assert_panic_poisons(&mut instance, |instance| instance.call("boom", &[]));
    }

    #[test]
    fn a_sources_panic_poisons_the_instance() {
        let wasm = wat::parse_str(format!("(module {STREAMING})")).expect("test module");
        let module = WasmerEngine::new().compile(&wasm).expect("compiles");
        let config = InstanceConfig::new().with_chunk_size(1024);

        // While the stream is opened (primed): no host function runs.
        let mut instance = module.instantiate(&config).expect("instance");
        assert_panic_poisons(&mut instance, |instance| {
            let source = Box::new(PanickingSource { good: 0 });
            instance.open_stream(source, StreamOptions::new())
        });

        // While the guest refills it, through the refill import.
        let mut instance = module.instantiate(&config).expect("instance");
        let source = Box::new(PanickingSource { good: 1 });
        let buffer = instance
            .open_stream(source, StreamOptions::new())
            .expect("primed");
        assert_panic_poisons(&mut instance, move |instance| {
            instance.call("pull", &[buffer])
        });
    }

    #[test]
    fn the_default_engine_takes_the_default_limits() {
        // `Default` builds from `EngineConfig::default()` without its checks:
        // they must pass.
        assert!(WasmerEngine::with_config(&EngineConfig::default()).is_ok());
        let engine = WasmerEngine::default();
        let timer = engine.deadlines.clone().expect("interrupts by default");
        assert!(!engine.fuel_metering());
        assert_eq!(InstanceConfig::new().limits, Limits::default());
        let module = compile(r#"(func (export "calm") (result i64) (i64.const 7))"#);
        let mut instance = module
            .instantiate(&InstanceConfig::new())
            .expect("instance");
        assert_eq!(instance.call("calm", &[]).expect("call"), 7);

        // One timer per engine, shared by its clones, its modules and their
        // instances, and idle between calls.
        let wasm = wat::parse_str(format!(
            r#"(module {PRELUDE} (func (export "calm") (result i64) (i64.const 7)))"#
        ))
        .expect("test module");
        let clone = engine.clone();
        let module = clone.compile(&wasm).expect("compiles");
        assert!(timer.shares(clone.deadlines.as_ref().expect("timer")));
        assert!(timer.shares(module.limiting.deadlines.as_ref().expect("timer")));
        assert_eq!(timer.status(), (false, 0), "no thread before a call");
        let mut instances: Vec<_> = (0..3)
            .map(|_| {
                module
                    .instantiate(&InstanceConfig::new())
                    .expect("instance")
            })
            .collect();
        for instance in &mut instances {
            assert_eq!(instance.call("calm", &[]).expect("call"), 7);
        }
        assert_eq!(timer.status(), (true, 0));
        assert!(!timer.shares(&WasmerEngine::new().deadlines.expect("timer")));
    }

    #[test]
    fn an_import_with_several_results_is_refused_not_a_panic() {
        let wasm = wat::parse_str(format!(
            r#"(module (import "env" "pair" (func (result i32 i64))) {PRELUDE})"#
        ))
        .expect("test module");
        let e = WasmerEngine::new().compile(&wasm).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
    }

    #[test]
    fn a_host_functions_error_comes_back_with_its_kind() {
        let module = compile(
            r#"(import "env" "refuse" (func $refuse (param i64)))
            (import "env" "poke" (func $poke (param i64)))
            (func (export "refuse") (result i64) (call $refuse (i64.const 1)) (i64.const 0))
            (func (export "poke") (param i64) (result i64) (call $poke (local.get 0)) (i64.const 0))"#,
        );
        let mut host = HostFunctions::new();
        host.func(
            "env",
            "refuse",
            |_: &mut Caller<'_>, _: i64| -> Result<()> { Err(Error::host("the embedder said no")) },
        );
        host.func(
            "env",
            "poke",
            |caller: &mut Caller<'_>, addr: i64| -> Result<()> { caller.write(addr, b"x") },
        );
        let mut instance = module
            .link(&host)
            .expect("links")
            .instantiate(&InstanceConfig::new())
            .expect("instance");
        let e = instance.call("refuse", &[]).unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::HostFunction, "the embedder said no")
        );
        let e = instance.call("poke", &[65_536]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ArgumentOutOfBounds);
        assert_eq!(instance.call("poke", &[65_535]).expect("in bounds"), 0);
        assert_eq!(instance.read_memory(65_535, 1).expect("read"), b"x");
    }

    #[test]
    fn the_refill_import_is_an_ordinary_host_function() {
        let module = compile(&format!(
            r#"(import "{IMPORT_MODULE}" "{FILL_BUFFER}" (func $fill (param i64 i64) (result i32)))
            (func (export "forged") (param i64) (result i64)
              (i64.extend_i32_u (call $fill (local.get 0) (i64.const 0))))"#
        ));
        let mut instance = module
            .instantiate(&InstanceConfig::new().with_instance_id(5))
            .expect("instance");
        assert_eq!(instance.instance_id(), 5);
        let e = instance.call("forged", &[6]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstanceId);
        assert_eq!(
            instance.call(FILL_BUFFER, &[5]).unwrap_err().kind(),
            ErrorKind::MissingExport
        );
    }

    #[test]
    fn linking_without_an_import_fails_with_missing_import() {
        let module = compile(
            r#"(import "env" "absent" (func (param i32 f64) (result i64)))
            (import "env" "table" (table 1 funcref))"#,
        );
        let imports = module.imports();
        assert_eq!(
            imports[0].ty,
            ImportType::Func(FuncType::new([ValType::I32, ValType::F64], [ValType::I64]))
        );
        assert!(matches!(imports[1].ty, ImportType::Other(_)));
        let e = module.link(&HostFunctions::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingImport);
        assert!(e.message().contains("env.absent: (i32, f64) -> i64"), "{e}");
        let e = module.instantiate(&InstanceConfig::new()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingImport);
    }
}
