//! The wasmer engine, its compiled modules and their linked form.

use refill_core::abi::{INITIATE_BUFFER, MEMORY};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostData, HostFunctions, Import, InstanceConfig,
    Limits, Linkage, LinkedModule, Module, Result,
};
use wasmer::{Extern, FunctionEnv, Store};

use crate::error::engine_error;
use crate::import::{bind, import_type};
use crate::instance::{LocalInstance, WasmerInstance};
use crate::limits::{InstanceLimits, Layout, check_module, singlepass_engine};
use crate::state::StoreData;

/// wasmer with its singlepass compiler, configured for refill.
///
/// Each compilation gets a wasmer engine of its own, with the middlewares
/// that enforce refill's limits (see `limits.rs`): they record where they put
/// their globals in the one module they transform, so they cannot be shared
/// between modules.
#[derive(Clone, Debug)]
pub struct WasmerEngine {
    backend: Backend,
}

/// How a [`WasmerEngine`] compiles.
#[derive(Clone, Debug)]
enum Backend {
    /// Singlepass with refill's middlewares, fuel metering when `true`.
    Singlepass { fuel_metering: bool },
    /// An engine of the embedder's, without refill's middlewares.
    Custom(wasmer::Engine),
}

// By hand: `wasmer::Engine::default()` takes the first compiler wasmer was
// built with (cranelift, llvm, then singlepass), which cargo's feature
// unification elsewhere in a build could change. refill wants singlepass.
impl Default for WasmerEngine {
    fn default() -> Self {
        Self {
            backend: Backend::Singlepass {
                fuel_metering: false,
            },
        }
    }
}

impl WasmerEngine {
    /// An engine with wasmer's singlepass compiler, without fuel metering.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine with wasmer's singlepass compiler built for `config`.
    pub fn with_config(config: &EngineConfig) -> Result<Self> {
        if config.custom_page_sizes {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "wasmer 7.4 does not implement the custom-page-sizes proposal \
                 (use wasmi or wasmtime for guests with 1-byte pages)",
            ));
        }
        Ok(Self {
            backend: Backend::Singlepass {
                fuel_metering: config.fuel_metering,
            },
        })
    }

    /// An engine over an existing wasmer engine (own compiler, own
    /// configuration). It has none of refill's middlewares, so its instances
    /// can have neither a fuel limit nor a memory limit below 4 GiB: asking for
    /// one is [`ErrorKind::Unsupported`].
    pub fn from_engine(engine: wasmer::Engine) -> Self {
        Self {
            backend: Backend::Custom(engine),
        }
    }

    /// Whether the engine meters fuel, so that its instances can have
    /// [`refill_core::Limits::fuel`].
    pub fn fuel_metering(&self) -> bool {
        matches!(
            self.backend,
            Backend::Singlepass {
                fuel_metering: true
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
            Backend::Singlepass { fuel_metering } => {
                let (engine, limiter) = singlepass_engine(*fuel_metering);
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
        let layout = limiter.map(|limiter| limiter.layout()).transpose()?;
        Ok(WasmerModule {
            engine,
            module,
            layout,
            metered: self.fuel_metering(),
        })
    }
}

/// A module compiled by wasmer.
#[derive(Clone, Debug)]
pub struct WasmerModule {
    engine: wasmer::Engine,
    module: wasmer::Module,
    /// What refill's memory limiter did to the module (`None`: compiled by an
    /// engine from [`WasmerEngine::from_engine`], without it).
    layout: Option<Layout>,
    /// Whether the module was compiled with fuel metering.
    metered: bool,
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
            layout: self.layout.clone(),
            metered: self.metered,
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
    /// As in [`WasmerModule`].
    layout: Option<Layout>,
    /// Whether the module was compiled with fuel metering.
    metered: bool,
    /// The host function of each import, in the module's import order.
    linkage: Linkage,
}

impl LinkedModule for WasmerLinkedModule {
    type Instance = WasmerInstance;

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmerInstance> {
        check_module(self.layout.as_ref(), &config.limits)?;
        let fuel = config.limits.fuel_per_call(self.metered)?;
        // Made here, not on the worker: the id names the worker's thread.
        let host = self.linkage.new_host_data(config)?;
        let instance_id = host.streams().instance_id();
        // The store is `!Send`: it is created, used and dropped on the
        // instance's own thread (see `instance.rs`).
        let (linked, limits) = (self.clone(), config.limits.clone());
        WasmerInstance::spawn(instance_id, move || {
            linked.instantiate_here(host, &limits, fuel)
        })
    }
}

impl WasmerLinkedModule {
    /// Instantiates the module on the calling thread, which owns the result.
    fn instantiate_here(
        &self,
        host: HostData,
        limits: &Limits,
        fuel: Option<u64>,
    ) -> Result<LocalInstance> {
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
                engine_error(
                    ErrorKind::Instantiation,
                    "wasmer cannot instantiate the module",
                    e,
                )
            })?;
        let limits =
            InstanceLimits::install(&mut store, &instance, self.layout.as_ref(), limits, fuel)?;

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

        let mut local = LocalInstance::new(store, env, instance, memory, initiate_buffer, limits);
        local.start()?;
        local.set_id()?;
        Ok(local)
    }
}

#[cfg(test)]
mod tests {
    use refill_core::abi::{FILL_BUFFER, IMPORT_MODULE};
    use refill_core::{Caller, FuncType, ImportType, Instance, InstanceExt, ValType};

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

    #[test]
    fn a_host_functions_panic_is_resumed_on_the_callers_thread() {
        assert_send_sync::<WasmerInstance>();
        let module = compile(
            r#"(import "env" "boom" (func $boom))
            (func (export "boom") (result i64) (call $boom) (i64.const 0))"#,
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
        let caller = std::thread::current().id();
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| instance.call("boom", &[])))
                .unwrap_err();
        assert_eq!(std::thread::current().id(), caller);
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"the embedder's bug"));
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
