//! Memory and CPU limits under wasmer, without `unsafe`.
//!
//! wasmer's own way to cap memory is a custom `Tunables`, whose
//! `create_vm_memory` and `create_vm_table` are `unsafe fn`s that this crate
//! (`#![forbid(unsafe_code)]`) cannot implement. Instead, every module is
//! compiled with two middlewares, fresh for each compilation (both keep the
//! indexes of the globals they add to one module):
//!
//! - wasmer-middlewares' [`Metering`] (cost 1 per operator) when the engine
//!   meters fuel; the host sets each call's budget with
//!   [`set_remaining_points`] and recognises its trap with
//!   [`get_remaining_points`].
//! - [`MemoryLimiter`], which adds three globals (the limit in pages, a flag
//!   and a scratch cell) and rewrites every `memory.grow` so that a growth
//!   WebAssembly would allow but that takes the guest's memories (all of them
//!   together) past the limit raises the flag and traps; the host sets the
//!   limit per instance and reads the flag after a failed call. Growth past
//!   a memory's own maximum still returns -1. It also takes the start
//!   function out of the module and exports it instead, so that the host runs
//!   it itself once the instance's fuel and memory limit are set (wasmer runs
//!   a start function inside `Instance::new`, before either could be set).

use std::sync::{Arc, Mutex, PoisonError};

use refill_core::{Error, ErrorKind, Limits, Result};
use wasmer::sys::wasmparser::{BlockType, Operator};
use wasmer::sys::{
    CompilerConfig, FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware,
    Singlepass,
};
use wasmer::{
    ExportIndex, Global, GlobalInit, GlobalType, Instance, LocalFunctionIndex, ModuleInfo,
    Mutability, RuntimeError, Store, Type, Value,
};
use wasmer_middlewares::Metering;
use wasmer_middlewares::metering::{MeteringPoints, get_remaining_points, set_remaining_points};

use crate::error::{RefillTrap, from_call};

/// The global holding an instance's memory limit in pages (`i64`, unsigned;
/// `u64::MAX` = no limit), exported for the host.
pub(crate) const LIMIT_PAGES_EXPORT: &str = "__refill_memory_limit_pages";
/// The global the rewritten `memory.grow` sets to 1 before trapping.
pub(crate) const LIMIT_HIT_EXPORT: &str = "__refill_memory_limit_hit";
/// The module's start function, exported for the host to run.
pub(crate) const START_EXPORT: &str = "__refill_start";

/// Pages of all of wasm32's 4 GiB, the most a memory without a declared
/// maximum can grow to.
const WASM32_PAGES: u64 = 1 << 16;

/// A fresh singlepass engine for one compilation, with fuel metering when
/// `fuel_metering`, and the memory limiter whose record of the module is read
/// back after compiling.
pub(crate) fn singlepass_engine(fuel_metering: bool) -> (wasmer::Engine, Arc<MemoryLimiter>) {
    let mut compiler = Singlepass::new();
    if fuel_metering {
        // Before the limiter, so that the budget counts the guest's own
        // operators, not the checks added around `memory.grow`. The initial
        // budget is unlimited: every guest call gets its own (`before_call`).
        compiler.push_middleware(Arc::new(Metering::new(u64::MAX, |_: &Operator| 1)));
    }
    let limiter = Arc::new(MemoryLimiter::default());
    compiler.push_middleware(limiter.clone());
    (compiler.into(), limiter)
}

/// What the limiter did to one module.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    globals: Globals,
    /// Per memory (imported ones first, as in the index space): the most
    /// pages WebAssembly itself lets it grow to (its declared maximum, or all
    /// of wasm32).
    maximum_pages: Arc<[u64]>,
    /// The initial size of all the module's memories together, in pages.
    initial_pages: u64,
    /// Whether the module's start function was moved to [`START_EXPORT`].
    deferred_start: bool,
}

/// The indexes of the limiter's globals in one module.
#[derive(Clone, Copy, Debug)]
struct Globals {
    limit_pages: u32,
    limit_hit: u32,
    /// Holds the operand of `memory.grow` while it is checked.
    delta: u32,
}

/// The module middleware that enforces the memory limit (see the module docs).
/// One per compilation: it remembers the one module it transformed.
#[derive(Debug, Default)]
pub(crate) struct MemoryLimiter {
    layout: Mutex<Option<Layout>>,
    /// Why the limiter refused the module, if it did (see [`MemoryLimiter::refusal`]).
    refused: Mutex<Option<String>>,
}

impl MemoryLimiter {
    /// Why the limiter made the compilation fail, as refill-core's error:
    /// wasmer's own error only carries the message.
    pub(crate) fn refusal(&self) -> Option<Error> {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        refused
            .as_ref()
            .map(|message| Error::new(ErrorKind::Unsupported, message.clone()))
    }

    /// What the limiter recorded of the module it compiled.
    pub(crate) fn layout(&self) -> Result<Layout> {
        self.layout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Engine,
                    "wasmer compiled the module without refill's memory limiter",
                )
            })
    }
}

const MIDDLEWARE_NAME: &str = "refill-memory-limiter";

impl ModuleMiddleware for MemoryLimiter {
    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        let layout = self
            .layout
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|layout| (layout.globals, layout.maximum_pages.clone()));
        Box::new(FunctionMemoryLimiter { layout })
    }

    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        // wasmer 7.4's singlepass builds a trampoline for every imported
        // function type and panics (an assertion) on one with more than one
        // result. The limiter sees the module first, so it refuses such a
        // module with an error instead of letting a guest's import panic
        // the host.
        let multi_result: Vec<String> = info
            .imported_function_types()
            .filter(|ty| ty.results().len() > 1)
            .map(|ty| format!("`{ty}`"))
            .collect();
        if !multi_result.is_empty() {
            let message = format!(
                "wasmer's singlepass compiler cannot call an imported function with more than \
                 one result (the module imports {})",
                multi_result.join(", ")
            );
            *self.refused.lock().unwrap_or_else(PoisonError::into_inner) = Some(message.clone());
            return Err(MiddlewareError::new(MIDDLEWARE_NAME, message));
        }
        let mut layout = self.layout.lock().unwrap_or_else(PoisonError::into_inner);
        if layout.is_some() {
            return Err(MiddlewareError::new(
                MIDDLEWARE_NAME,
                "one limiter cannot transform two modules",
            ));
        }
        let mut add_global = |ty: Type, init: GlobalInit, export: Option<&str>| {
            let index = info.globals.push(GlobalType::new(ty, Mutability::Var));
            info.global_initializers.push(init);
            if let Some(name) = export {
                // Replaces a guest export of the same name: the host must
                // find the limiter's globals under these names.
                info.exports
                    .insert(name.to_owned(), ExportIndex::Global(index));
            }
            index.as_u32()
        };
        // Unlimited (u64::MAX) until the host sets the instance's limit.
        let limit_pages = add_global(
            Type::I64,
            GlobalInit::I64Const(-1),
            Some(LIMIT_PAGES_EXPORT),
        );
        let limit_hit = add_global(Type::I32, GlobalInit::I32Const(0), Some(LIMIT_HIT_EXPORT));
        let delta = add_global(Type::I32, GlobalInit::I32Const(0), None);

        let deferred_start = match info.start_function.take() {
            Some(start) => {
                info.exports
                    .insert(START_EXPORT.to_owned(), ExportIndex::Function(start));
                true
            }
            None => false,
        };
        let memories = info.memories.values();
        let maximum_pages = memories
            .clone()
            .map(|ty| ty.maximum.map_or(WASM32_PAGES, |max| u64::from(max.0)))
            .collect();
        let initial_pages = memories.map(|ty| u64::from(ty.minimum.0)).sum();
        *layout = Some(Layout {
            globals: Globals {
                limit_pages,
                limit_hit,
                delta,
            },
            maximum_pages,
            initial_pages,
            deferred_start,
        });
        Ok(())
    }
}

/// The limiter for one function: rewrites each `memory.grow`.
#[derive(Debug)]
struct FunctionMemoryLimiter {
    /// The module's globals and memory maximums; `None` only if wasmer did
    /// not call `transform_module_info` first.
    layout: Option<(Globals, Arc<[u64]>)>,
}

impl<'a> FunctionMiddleware<'a> for FunctionMemoryLimiter {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        let Operator::MemoryGrow { mem } = operator else {
            state.push_operator(operator);
            return Ok(());
        };
        let (g, maximum_pages) = self.layout.as_ref().ok_or_else(|| {
            MiddlewareError::new(
                MIDDLEWARE_NAME,
                "the module was not prepared for the memory limiter",
            )
        })?;
        let own_maximum = maximum_pages
            .get(mem as usize)
            .copied()
            .unwrap_or(WASM32_PAGES);
        // [delta: i32] -> [old size or -1: i32]. Traps, after raising the
        // flag, when the growth would succeed as far as WebAssembly is
        // concerned (this memory stays within its own maximum) but takes all
        // memories together past the instance's limit; growth WebAssembly
        // refuses still returns -1. Sizes in u64 pages cannot overflow, and
        // `delta` is unsigned for `memory.grow`, so both extensions are too.
        let delta = [
            Operator::GlobalGet {
                global_index: g.delta,
            },
            Operator::I64ExtendI32U,
        ];
        let size = |mem| [Operator::MemorySize { mem }, Operator::I64ExtendI32U];
        state.push_operator(Operator::GlobalSet {
            global_index: g.delta,
        });
        // This memory's new size is within its own maximum...
        state.extend(size(mem));
        state.extend(delta.clone());
        state.extend([
            Operator::I64Add,
            Operator::I64Const {
                value: own_maximum as i64,
            },
            Operator::I64LeU,
        ]);
        // ...and all memories' new size is past the limit.
        state.extend(delta.clone());
        for other in 0..maximum_pages.len() as u32 {
            state.extend(size(other));
            state.push_operator(Operator::I64Add);
        }
        state.extend([
            Operator::GlobalGet {
                global_index: g.limit_pages,
            },
            Operator::I64GtU,
            Operator::I32And,
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::I32Const { value: 1 },
            Operator::GlobalSet {
                global_index: g.limit_hit,
            },
            Operator::Unreachable,
            Operator::End,
        ]);
        state.extend([
            Operator::GlobalGet {
                global_index: g.delta,
            },
            Operator::MemoryGrow { mem },
        ]);
        Ok(())
    }
}

/// Checks, before instantiating, that the memory limit can be honoured by a
/// module compiled with (`layout`) or without (`None`) refill's middlewares,
/// and that its initial memory fits. (Fuel: `Limits::fuel_per_call`.)
pub(crate) fn check_module(layout: Option<&Layout>, limits: &Limits) -> Result<()> {
    let max_pages = limits.max_memory_pages();
    match layout {
        Some(layout) if layout.initial_pages > max_pages => Err(Error::new(
            ErrorKind::MemoryLimitExceeded,
            format!(
                "the module's memories start at {} bytes together, over the limit of {} bytes",
                layout.initial_pages * refill_core::abi::WASM_PAGE_SIZE,
                limits.max_memory_bytes
            ),
        )),
        Some(_) => Ok(()),
        None if max_pages < WASM32_PAGES => Err(Error::new(
            ErrorKind::Unsupported,
            "a memory limit needs an engine built by refill-wasmer \
             (`WasmerEngine::new` or `WasmerEngine::with_config`), not `WasmerEngine::from_engine`",
        )),
        None => Ok(()),
    }
}

/// One instance's limits at run time: the fuel of each call and the flag of
/// the memory limit.
#[derive(Debug)]
pub(crate) struct InstanceLimits {
    /// The budget of each call (`Limits::fuel_per_call`); `Some` only on a
    /// metered module.
    fuel: Option<u64>,
    /// The limiter's flag; `None` for modules compiled without it.
    limit_hit: Option<Global>,
    max_memory_bytes: u64,
    deferred_start: bool,
}

impl InstanceLimits {
    /// Sets the memory limit of a fresh instance of a module checked by
    /// [`check_module`].
    pub(crate) fn install(
        store: &mut Store,
        instance: &Instance,
        layout: Option<&Layout>,
        limits: &Limits,
        fuel: Option<u64>,
    ) -> Result<Self> {
        let mut limit_hit = None;
        if layout.is_some() {
            let global = |name: &str| {
                instance.exports.get_global(name).cloned().map_err(|e| {
                    Error::new(ErrorKind::Engine, format!("the limiter's `{name}` is gone"))
                        .with_source(e)
                })
            };
            global(LIMIT_PAGES_EXPORT)?
                .set(store, Value::from(limits.max_memory_pages()))
                .map_err(|e| {
                    Error::new(ErrorKind::Engine, "cannot set the memory limit").with_source(e)
                })?;
            limit_hit = Some(global(LIMIT_HIT_EXPORT)?);
        }
        Ok(Self {
            fuel,
            limit_hit,
            max_memory_bytes: limits.max_memory_bytes,
            deferred_start: layout.is_some_and(|layout| layout.deferred_start),
        })
    }

    /// Whether the host has to run the module's start function itself
    /// (exported as [`START_EXPORT`]).
    pub(crate) fn deferred_start(&self) -> bool {
        self.deferred_start
    }

    /// Gives the next guest call its fresh budget.
    pub(crate) fn before_call(&self, store: &mut Store, instance: &Instance) {
        if let Some(fuel) = self.fuel {
            set_remaining_points(store, instance, fuel);
        }
    }

    /// The refill error behind a failed guest call: a refill trap raised by
    /// the import, the memory limit, the fuel budget, or the guest's own trap.
    pub(crate) fn failed(
        &self,
        store: &mut Store,
        instance: &Instance,
        error: RuntimeError,
    ) -> Error {
        if error.is::<RefillTrap>() {
            return from_call(error);
        }
        if let Some(flag) = &self.limit_hit
            && matches!(flag.get(store), Value::I32(1))
        {
            // Cleared for the next call; cannot fail on the limiter's own
            // mutable i32 global.
            let _ = flag.set(store, Value::I32(0));
            return Error::new(
                ErrorKind::MemoryLimitExceeded,
                format!(
                    "the guest tried to grow its memory past the limit of {} bytes (all memories together)",
                    self.max_memory_bytes
                ),
            )
            .with_source(error);
        }
        if let Some(fuel) = self.fuel
            && get_remaining_points(store, instance) == MeteringPoints::Exhausted
        {
            return Error::new(
                ErrorKind::CpuBudgetExhausted,
                format!("the guest used up the call's budget of {fuel} fuel units"),
            )
            .with_source(error);
        }
        from_call(error)
    }
}

#[cfg(test)]
mod tests {
    use refill_core::{Engine, EngineConfig, Instance, InstanceConfig, Module};

    use super::*;
    use crate::{WasmerEngine, WasmerInstance};

    const PRELUDE: &str = r#"(memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)"#;

    fn module(body: &str) -> Vec<u8> {
        wat::parse_str(format!("(module {PRELUDE} {body})")).expect("test module")
    }

    fn metered() -> WasmerEngine {
        WasmerEngine::with_config(&EngineConfig::new().with_fuel_metering(true)).expect("engine")
    }

    fn instantiate(engine: &WasmerEngine, wasm: &[u8], limits: Limits) -> Result<WasmerInstance> {
        engine
            .compile(wasm)?
            .instantiate(&InstanceConfig::new().with_limits(limits))
    }

    fn kind<T>(result: Result<T>) -> ErrorKind {
        match result {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn one_engine_compiles_many_modules() {
        // wasmer-middlewares' `Metering` panics when it sees a second module:
        // each compilation needs middlewares of its own.
        let engine = metered();
        assert!(engine.fuel_metering());
        let wasm = module(r#"(func (export "f") (result i64) i64.const 7)"#);
        for _ in 0..3 {
            let limits = Limits::default().with_fuel(Some(100));
            let mut instance = instantiate(&engine, &wasm, limits).expect("instance");
            assert_eq!(instance.call("f", &[]).expect("call"), 7);
        }
    }

    #[test]
    fn the_start_function_runs_within_the_limits() {
        let engine = metered();
        let writes = module(r#"(func $s (i32.store (i32.const 8) (i32.const 42))) (start $s)"#);
        let instance = instantiate(&engine, &writes, Limits::default()).expect("instance");
        assert_eq!(instance.read_memory(8, 4).expect("read"), [42, 0, 0, 0]);

        let spins = module(r#"(func $s (loop $l (br $l))) (start $s)"#);
        let fuel = Limits::default().with_fuel(Some(10_000));
        assert_eq!(
            kind(instantiate(&engine, &spins, fuel)),
            ErrorKind::CpuBudgetExhausted
        );

        let grows = module(r#"(func $s (drop (memory.grow (i32.const 4)))) (start $s)"#);
        let small = Limits::default().with_max_memory_bytes(2 * 65_536);
        assert_eq!(
            kind(instantiate(&engine, &grows, small)),
            ErrorKind::MemoryLimitExceeded
        );

        let traps = module(r#"(func $s unreachable) (start $s)"#);
        assert_eq!(
            kind(instantiate(&engine, &traps, Limits::default())),
            ErrorKind::Instantiation
        );
    }

    #[test]
    fn growth_refused_by_wasm_itself_still_returns_minus_one() {
        let engine = WasmerEngine::new();
        let grow = r#"(func (export "grow") (param i64) (result i64)
            (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get 0)))))"#;
        // Past all of wasm32 under the default limit (4 GiB: none).
        let mut instance =
            instantiate(&engine, &module(grow), Limits::default()).expect("instance");
        assert_eq!(instance.call("grow", &[1 << 16]).expect("call"), -1);
        assert_eq!(instance.call("grow", &[1]).expect("call"), 1);

        // Past the module's own maximum: -1 first, whatever refill's limit.
        let capped = wat::parse_str(format!(
            r#"(module (memory (export "memory") 1 2)
            (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
            {grow})"#
        ))
        .expect("test module");
        let limits = Limits::default().with_max_memory_bytes(65_536);
        let mut instance = instantiate(&engine, &capped, limits).expect("instance");
        assert_eq!(instance.call("grow", &[5]).expect("call"), -1);
        assert_eq!(
            kind(instance.call("grow", &[1])),
            ErrorKind::MemoryLimitExceeded
        );
        assert_eq!(instance.call("grow", &[0]).expect("call"), 1);
    }

    #[test]
    fn all_memories_count_together_and_dead_code_is_rewritten() {
        let engine = WasmerEngine::new();
        let wasm = module(
            r#"(memory $second 1)
            (func (export "grow_second") (result i64)
              (i64.extend_i32_s (memory.grow $second (i32.const 1))))
            (func (export "dead") (result i64)
              unreachable
              memory.grow
              drop
              i64.const 0)"#,
        );
        let pages = |n: u64| Limits::default().with_max_memory_bytes(n * 65_536);
        assert_eq!(
            kind(instantiate(&engine, &wasm, pages(1))),
            ErrorKind::MemoryLimitExceeded
        );
        let mut instance = instantiate(&engine, &wasm, pages(3)).expect("instance");
        assert_eq!(instance.call("grow_second", &[]).expect("call"), 1);
        assert_eq!(
            kind(instance.call("grow_second", &[])),
            ErrorKind::MemoryLimitExceeded
        );
        assert_eq!(kind(instance.call("dead", &[])), ErrorKind::Trap);
    }

    #[test]
    fn the_limiters_exports_are_not_the_guests() {
        let engine = WasmerEngine::new();
        let wasm = module(r#"(func $s) (start $s)"#);
        let mut instance = instantiate(&engine, &wasm, Limits::default()).expect("instance");
        for name in [START_EXPORT, LIMIT_PAGES_EXPORT, LIMIT_HIT_EXPORT] {
            assert_eq!(kind(instance.call(name, &[])), ErrorKind::MissingExport);
        }
    }

    #[test]
    fn an_embedders_engine_cannot_limit() {
        let engine = WasmerEngine::from_engine(wasmer::sys::Singlepass::default().into());
        let wasm = module("");
        assert_eq!(
            kind(instantiate(
                &engine,
                &wasm,
                Limits::default().with_fuel(Some(1))
            )),
            ErrorKind::Unsupported
        );
        let small = Limits::default().with_max_memory_bytes(1 << 20);
        assert_eq!(
            kind(instantiate(&engine, &wasm, small)),
            ErrorKind::Unsupported
        );
        assert!(instantiate(&engine, &wasm, Limits::default()).is_ok());
    }
}
