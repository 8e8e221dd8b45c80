//! The wasmi engine, its compiled modules and their linked form.

use alloc::borrow::ToOwned;
use alloc::sync::Arc;
use alloc::vec::Vec;

use refill_core::abi::{INITIATE_BUFFER, MEMORY, SET_ID};
use refill_core::{
    Engine, EngineConfig, Error, ErrorKind, HostFunctions, Import, InstanceConfig, Linkage,
    LinkedModule, Module, Result,
};
use wasmi::{Extern, ResourceLimiter, Store, Val};

use crate::error::engine_error;
use crate::import::{LinkedFunc, import_type};
use crate::instance::WasmiInstance;
use crate::memory::GuestLimiter;
use crate::state::{CallLimits, StoreData, prepare_start};

/// The wasmi interpreter, configured for refill.
#[derive(Clone, Debug)]
pub struct WasmiEngine {
    engine: wasmi::Engine,
    /// Whether `Limits::fuel` budgets can be kept (eager translation).
    fuel_metering: bool,
    /// Whether the engine meters fuel at all (for budgets, or for the fuel
    /// slices that keep deadlines).
    metered: bool,
    /// Whether deadlines can be kept (fuel slices, and a clock: `std`).
    interruption: bool,
}

/// [`WasmiEngine::new`].
impl Default for WasmiEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl WasmiEngine {
    /// An engine built for [`EngineConfig::default`]: deadlines kept with
    /// fuel slices, a bounded stack, no fuel budgets.
    pub fn new() -> Self {
        Self::build(&EngineConfig::default())
    }

    /// An engine built for `config`. A metering engine translates every
    /// function when the module is compiled, so that each call's fuel is
    /// its own.
    pub fn with_config(config: &EngineConfig) -> Result<Self> {
        if config.pooling.is_some() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "wasmi has no instance pool (an instance costs a few microseconds \
                 without one); the pooling allocator is wasmtime's",
            ));
        }
        Ok(Self::build(config))
    }

    fn build(config: &EngineConfig) -> Self {
        // Deadlines need fuel slices, and a clock.
        let interruption = config.interruption && cfg!(feature = "std");
        let metered = config.fuel_metering || interruption;
        let mut wasmi_config = wasmi::Config::default();
        wasmi_config.consume_fuel(metered);
        wasmi_config.wasm_custom_page_sizes(config.custom_page_sizes);
        // The interpreter keeps guest frames on a stack of its own, so a
        // guest's recursion never deepens the host's: past this height (or
        // wasmi's 1000 nested calls) it traps with a stack overflow.
        let stack = usize::try_from(config.max_stack_bytes).unwrap_or(usize::MAX);
        wasmi_config.set_max_stack_height(stack.max(4096));
        if config.fuel_metering {
            // wasmi translates lazily by default and charges the translation
            // to the call that first runs a function, in whichever instance:
            // a call's fuel would depend on what other instances ran before.
            // Translating at compile time makes every call's cost its own.
            wasmi_config.compilation_mode(wasmi::CompilationMode::Eager);
        }
        Self {
            engine: wasmi::Engine::new(&wasmi_config),
            fuel_metering: config.fuel_metering,
            metered,
            interruption,
        }
    }

    /// An engine over an existing wasmi engine (own configuration). Whether
    /// it meters fuel is read from the engine itself; one that does keeps
    /// fuel budgets and deadlines alike (translation may then count towards
    /// a budget, as wasmi translates lazily unless told otherwise).
    pub fn from_engine(engine: wasmi::Engine) -> Self {
        // wasmi does not say publicly whether an engine meters fuel, but a
        // store of an unmetered engine refuses to report its fuel.
        let metered = Store::new(&engine, ()).get_fuel().is_ok();
        Self {
            engine,
            fuel_metering: metered,
            metered,
            interruption: metered && cfg!(feature = "std"),
        }
    }

    /// Whether this engine meters fuel, so that `Limits::fuel` can be set.
    pub fn meters_fuel(&self) -> bool {
        self.fuel_metering
    }
}

impl Engine for WasmiEngine {
    type Module = WasmiModule;

    fn name(&self) -> &'static str {
        "wasmi"
    }

    fn compile(&self, wasm: &[u8]) -> Result<WasmiModule> {
        let module = wasmi::Module::new(&self.engine, wasm)
            .map_err(|e| engine_error(ErrorKind::InvalidModule, "wasmi rejected the module", e))?;
        Ok(WasmiModule {
            engine: self.clone(),
            module,
        })
    }
}

/// A module compiled by wasmi.
#[derive(Clone, Debug)]
pub struct WasmiModule {
    engine: WasmiEngine,
    module: wasmi::Module,
}

impl Module for WasmiModule {
    type Linked = WasmiLinkedModule;

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

    fn link(&self, host: &HostFunctions) -> Result<WasmiLinkedModule> {
        let linkage = host.link(&self.imports())?;
        let funcs = linkage
            .funcs()
            .iter()
            .map(|func| LinkedFunc::new(func, host.is_async()))
            .collect();
        Ok(WasmiLinkedModule {
            engine: self.engine.clone(),
            module: self.module.clone(),
            linkage,
            funcs,
        })
    }
}

/// A wasmi module linked against host functions: its imports resolved
/// once, to the host function of each import by position.
///
/// wasmi 2.0 has no store-independent `InstancePre` (a `wasmi::Func`
/// belongs to one store), so each instantiation defines one function per
/// import, in import order, and hands them to `wasmi::Instance::new`:
/// nothing is looked up by name.
#[derive(Clone, Debug)]
pub struct WasmiLinkedModule {
    engine: WasmiEngine,
    module: wasmi::Module,
    linkage: Linkage,
    /// `linkage.funcs()` with their wasmi types, converted once.
    funcs: Arc<[LinkedFunc]>,
}

impl LinkedModule for WasmiLinkedModule {
    type Instance = WasmiInstance;
    // Already `Send`: the local instance is the same, with no cost to moving.
    type LocalInstance = WasmiInstance;

    fn instantiate_local(&self, config: &InstanceConfig) -> Result<WasmiInstance> {
        self.instantiate(config)
    }

    fn instantiate(&self, config: &InstanceConfig) -> Result<WasmiInstance> {
        let limits = &config.limits;
        let budget = limits.fuel_per_call(self.engine.fuel_metering)?;
        let deadline = limits.deadline_per_call(self.engine.interruption)?;
        #[cfg(not(feature = "std"))]
        let _ = deadline;
        let host = self.linkage.new_host_data(config)?;
        let instance_id = host.streams().instance_id();
        let mut store = Store::new(
            &self.engine.engine,
            StoreData {
                host,
                memory: None,
                limiter: GuestLimiter::new(limits),
                limits: CallLimits {
                    // `fuel_per_call` gives u64::MAX for "no budget".
                    budget: limits.fuel.and(budget),
                    metered: self.engine.metered,
                    #[cfg(feature = "std")]
                    deadline,
                },
                fuel_is_deadline: false,
            },
        );
        store.limiter(|state: &mut StoreData| -> &mut dyn ResourceLimiter { &mut state.limiter });
        // A start function runs within the budget and the deadline too.
        prepare_start(&mut store)?;
        let imports: Vec<Extern> = self
            .funcs
            .iter()
            .map(|func| Extern::Func(func.define(&mut store)))
            .collect();
        // `Instance::new` also runs the start function.
        let instance = wasmi::Instance::new(&mut store, &self.module, &imports)
            .map_err(|e| store.data_mut().instantiation_error(e))?;

        let memory = instance
            .get_memory(&store, MEMORY)
            .ok_or_else(|| Error::missing_export(MEMORY))?;
        store.data_mut().memory = Some(memory);

        let initiate_buffer = instance
            .get_func(&store, INITIATE_BUFFER)
            .ok_or_else(|| Error::missing_export(INITIATE_BUFFER))?;
        // Called untyped, through the same limits as every call; the types
        // are checked once, here.
        if initiate_buffer.typed::<u32, i64>(&store).is_err() {
            return Err(Error::signature_mismatch(
                INITIATE_BUFFER,
                "(i32) -> i64",
                initiate_buffer.ty(&store),
            ));
        }

        if let Some(set_id) = instance.get_func(&store, SET_ID) {
            if set_id.typed::<i64, ()>(&store).is_err() {
                return Err(Error::signature_mismatch(
                    SET_ID,
                    "(i64) -> ()",
                    set_id.ty(&store),
                ));
            }
            crate::state::call(&mut store, &set_id, &[Val::I64(instance_id)], &mut [])?;
        }
        Ok(WasmiInstance::new(store, instance, memory, initiate_buffer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use refill_core::abi::{FILL_BUFFER, IMPORT_MODULE};
    use refill_core::{Caller, ImportType, Instance, InstanceExt, Limits, StateSlot, ValType};

    /// A guest that imports two embedder functions around refill's own
    /// import: `echo` takes and returns one value of each of the four types
    /// (stored by the guest at 0, 8, 16 and 24), `fail` only fails.
    /// `__frnt_set_id` stores the id it is given at 48.
    const HOST_CALLS: &str = r#"
        (module
          (import "env" "echo" (func $echo (param i32 i64 f32 f64) (result i32 i64 f32 f64)))
          (import "freenet_contract_io" "__frnt__fill_buffer" (func (param i64 i64) (result i32)))
          (import "env" "fail" (func $fail (param i64) (result i64)))
          (memory (export "memory") 1)
          (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
          (func (export "__frnt_set_id") (param i64) (i64.store (i32.const 48) (local.get 0)))
          (func (export "echo") (param $x i64) (result i64)
            (local $a i32) (local $b i64) (local $c f32) (local $d f64)
            (call $echo (i32.wrap_i64 (local.get $x)) (local.get $x) (f32.const 1.5) (f64.const -0.25))
            (local.set $d) (local.set $c) (local.set $b) (local.set $a)
            (i32.store (i32.const 0) (local.get $a))
            (i64.store (i32.const 8) (local.get $b))
            (f32.store (i32.const 16) (local.get $c))
            (f64.store (i32.const 24) (local.get $d))
            (i64.const 0))
          (func (export "fail") (param i64) (result i64) (call $fail (local.get 0))))
    "#;

    fn compile(wat: &str) -> WasmiModule {
        let wasm = wat::parse_str(wat).expect("test modules are valid text");
        WasmiEngine::new()
            .compile(&wasm)
            .expect("test modules compile")
    }

    /// `echo`, which writes `b"host"` at 32 and counts its calls per
    /// instance, and `fail`, which always fails.
    fn embedder_functions() -> (HostFunctions, StateSlot<u32>) {
        let mut host = HostFunctions::new();
        let calls = host.state(|| 0u32);
        host.func(
            "env",
            "echo",
            move |caller: &mut Caller<'_>,
                  a: i32,
                  b: i64,
                  c: f32,
                  d: f64|
                  -> Result<(i32, i64, f32, f64)> {
                caller.write(32, b"host")?;
                *caller.state(calls)? += 1;
                Ok((a.wrapping_add(1), b.wrapping_mul(3), c * 2.0, d * 2.0))
            },
        );
        host.func("env", "fail", |_: &mut Caller<'_>, _: i64| -> Result<i64> {
            Err(Error::host("the embedder said no"))
        });
        (host, calls)
    }

    /// An embedder's host function gets the guest's values of all four types
    /// and returns its own, writes guest memory through its caller and keeps
    /// state per instance; one linked module makes instances with their own ids.
    #[test]
    fn host_functions_get_and_return_every_value_type_through_the_guest() {
        let module = compile(HOST_CALLS);
        let imports = module.imports();
        let names: Vec<_> = imports.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["echo", FILL_BUFFER, "fail"]);
        assert_eq!(imports[1].module, IMPORT_MODULE);
        let echo_type = refill_core::FuncType::new(
            [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
            [ValType::I32, ValType::I64, ValType::F32, ValType::F64],
        );
        assert_eq!(imports[0].ty, ImportType::Func(echo_type));

        let (host, calls) = embedder_functions();
        let linked = module.link(&host).unwrap();
        let mut first = linked.instantiate(&InstanceConfig::new()).unwrap();
        let x = (1i64 << 40) + 7;
        assert_eq!(first.call("echo", &[x]).unwrap(), 0);
        let memory = first.read_memory(0, 56).unwrap();
        let word = |at: usize| u64::from_le_bytes(memory[at..at + 8].try_into().unwrap());
        assert_eq!(i32::from_le_bytes(memory[0..4].try_into().unwrap()), 8);
        assert_eq!(word(8) as i64, x * 3);
        assert_eq!(f32::from_le_bytes(memory[16..20].try_into().unwrap()), 3.0);
        assert_eq!(f64::from_bits(word(24)), -0.5);
        assert_eq!(
            &memory[32..36],
            b"host",
            "the host wrote through the caller's memory"
        );
        assert_eq!(
            word(48) as i64,
            first.instance_id(),
            "__frnt_set_id got the instance's id"
        );

        // One linkage, many instances: each its own id and state.
        let mut second = linked.instantiate(&InstanceConfig::new()).unwrap();
        assert_ne!(first.instance_id(), second.instance_id());
        first.call("echo", &[1]).unwrap();
        assert_eq!(first.with_state(calls, |n| *n).unwrap(), 2);
        assert_eq!(second.with_state(calls, |n| *n).unwrap(), 0);
    }

    /// A host function's error traps the guest and comes back from the call
    /// as it was raised, kind and message intact.
    #[test]
    fn a_host_functions_error_comes_back_from_the_call_with_its_kind() {
        let (host, _) = embedder_functions();
        let linked = compile(HOST_CALLS).link(&host).unwrap();
        let mut instance = linked.instantiate(&InstanceConfig::new()).unwrap();
        let error = instance.call("fail", &[1]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::HostFunction);
        assert_eq!(error.message(), "the embedder said no");
        assert_eq!(
            instance.call("echo", &[1]).unwrap(),
            0,
            "the instance still works"
        );
    }

    /// Linking fails with `MissingImport` when the host lacks an import, or
    /// serves it with another type, and names each one with its signature.
    #[test]
    fn linking_without_an_import_the_host_lacks_fails_naming_it() {
        let module = compile(HOST_CALLS);
        let error = module.link(&HostFunctions::new()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingImport);
        assert!(
            error
                .message()
                .contains("`env.echo: (i32, i64, f32, f64) -> (i32, i64, f32, f64)`")
        );
        assert!(error.message().contains("`env.fail: (i64) -> i64`"));
        // `Module::instantiate` links with refill's own import only.
        let error = module
            .instantiate(&InstanceConfig::new())
            .map(drop)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingImport);

        let mut wrong = embedder_functions().0;
        wrong.func("env", "fail", |_: &mut Caller<'_>, a: i32| -> Result<i32> {
            Ok(a)
        });
        let error = module.link(&wrong).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MissingImport);
        assert!(error.message().contains("the host's has type (i32) -> i32"));
        let tables = compile(r#"(module (import "env" "table" (table 1 funcref)))"#);
        assert_eq!(tables.imports()[0].ty, ImportType::Other("table".into()));
        assert_eq!(
            tables.link(&HostFunctions::new()).unwrap_err().kind(),
            ErrorKind::MissingImport
        );
    }

    /// A host function called from a start function sees no memory (it is
    /// not known yet); its error fails the instantiation and is its source.
    #[test]
    fn a_host_function_in_a_start_function_has_no_memory_and_fails_instantiation() {
        let module = compile(
            r#"(module
                 (import "env" "probe" (func $probe (result i64)))
                 (memory (export "memory") 1)
                 (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
                 (func $start (drop (call $probe)))
                 (start $start))"#,
        );
        let mut host = HostFunctions::new();
        host.func("env", "probe", |caller: &mut Caller<'_>| -> Result<i64> {
            if caller.memory_size() != 0 {
                return Err(Error::host("a start function's host call saw a memory"));
            }
            caller.memory().map(|_| 0)
        });
        let error = module
            .link(&host)
            .unwrap()
            .instantiate(&InstanceConfig::new())
            .map(drop);
        let error = error.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Instantiation);
        let cause = std::error::Error::source(&error).and_then(|s| s.downcast_ref::<Error>());
        assert_eq!(cause.map(Error::kind), Some(ErrorKind::MissingExport));
    }

    /// Limits keep their kinds through the store's classification: a memory
    /// past the limit at instantiation and at `memory.grow`, fuel running out,
    /// and a fresh budget for the next call.
    #[test]
    fn limits_are_reported_with_their_kinds() {
        let guest = |pages: u32| {
            format!(
                r#"(module
                     (memory (export "memory") {pages})
                     (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
                     (func (export "grow") (param i64) (result i64)
                       (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get 0)))))
                     (func (export "spin") (param i64) (result i64) (loop $l (br $l)) (i64.const 0)))"#
            )
        };
        let one_page = Limits::default().with_max_memory_bytes(65_536);
        let config = InstanceConfig::new().with_limits(one_page.clone());
        let big = compile(&guest(2));
        let error = big.instantiate(&config).map(drop).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MemoryLimitExceeded);

        let mut instance = compile(&guest(1)).instantiate(&config).unwrap();
        let error = instance.call("grow", &[1]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::MemoryLimitExceeded);
        assert_eq!(
            instance.call("grow", &[0]).unwrap(),
            1,
            "growing by nothing is fine"
        );

        let engine =
            WasmiEngine::with_config(&EngineConfig::new().with_fuel_metering(true)).unwrap();
        let module = engine.compile(&wat::parse_str(guest(1)).unwrap()).unwrap();
        let config = InstanceConfig::new().with_limits(one_page.with_fuel(Some(10_000)));
        let mut instance = module.instantiate(&config).unwrap();
        let error = instance.call("spin", &[0]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::CpuBudgetExhausted);
        assert!(error.message().contains("10000"), "{}", error.message());
        assert_eq!(
            instance.call("grow", &[0]).unwrap(),
            1,
            "each call has its own budget"
        );
    }

    #[test]
    fn metering_follows_the_config_and_is_read_back_from_a_wasmi_engine() {
        assert!(!WasmiEngine::new().meters_fuel());
        let metered = WasmiEngine::with_config(&EngineConfig::new().with_fuel_metering(true));
        assert!(metered.is_ok_and(|e| e.meters_fuel()));
        let mut config = wasmi::Config::default();
        config.consume_fuel(true);
        assert!(WasmiEngine::from_engine(wasmi::Engine::new(&config)).meters_fuel());
        assert!(!WasmiEngine::from_engine(wasmi::Engine::default()).meters_fuel());
    }

    #[test]
    fn fuel_on_an_unmetered_engine_is_unsupported_and_names_the_fix() {
        // The smallest module: fuel is checked before anything is instantiated.
        let module = WasmiEngine::new().compile(b"\0asm\x01\0\0\0");
        let limits = Limits::default().with_fuel(Some(1000));
        let config = InstanceConfig::new().with_limits(limits);
        let error = module.and_then(|m| m.instantiate(&config).map(|_| ()));
        let error = error.expect_err("fuel without metering");
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        assert!(error.message().contains("EngineConfig::with_fuel_metering"));
    }
}
