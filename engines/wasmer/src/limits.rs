//! What bounds a guest under wasmer beyond what wasmer does itself, without
//! `unsafe`: the compiler middlewares that enforce the memory, table and
//! fuel limits, the check of a module against an instance's limits, and
//! the deadline timer.
//!
//! Every module is compiled with two middlewares, fresh for each
//! compilation (both keep the indexes of the globals they add to one
//! module):
//!
//! - wasmer-middlewares' [`Metering`] (cost 1 per operator) when the engine
//!   meters fuel; the host sets each call's budget with
//!   [`set_remaining_points`] and recognises its trap with
//!   [`get_remaining_points`].
//! - [`ResourceLimiter`], which adds four globals (the memory limit in pages,
//!   the table limit in elements, a flag and a scratch cell) and rewrites
//!   every `memory.grow` and `table.grow` so that a growth WebAssembly would
//!   allow but that takes the guest's memories (or tables), all of them
//!   together, past the limit raises the flag and traps; the host sets the
//!   limits per instance and reads the flag after a failed call. Growth past
//!   a memory's or table's own maximum still returns -1. It also takes the
//!   start function out of the module and exports it instead, so that the
//!   host runs it itself once the instance's limits are set (wasmer runs a
//!   start function inside `Instance::new`, before any could be set).
//!
//! Nothing else grows a memory or a table: `table.fill`, `table.init`,
//! `table.copy`, `table.set` and element segments write within a table's
//! current size (or trap), as `memory.fill`, `memory.init`, `memory.copy`
//! and data segments do within a memory's.
//!
//! The deadline: one [`DeadlineTimer`] thread per engine interrupts the
//! calls still running at their deadline with wasmer's `Interrupter`.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use refill_core::limits::{count_exceeded, memory_exceeded, tables_exceeded};
use refill_core::{Error, ErrorKind, Limits, Result};
use wasmer::sys::vm::TrapCode;
use wasmer::sys::wasmparser::{self, BlockType, Operator, Payload, TypeRef};
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
/// The global holding an instance's table limit in elements (`i64`,
/// unsigned; `u64::MAX` = no limit), exported for the host.
pub(crate) const LIMIT_ELEMENTS_EXPORT: &str = "__refill_table_limit_elements";
/// The global the rewritten `memory.grow` and `table.grow` set (to
/// [`MEMORY_HIT`] or [`TABLE_HIT`]) before trapping.
pub(crate) const LIMIT_HIT_EXPORT: &str = "__refill_limit_hit";
/// The module's start function, exported for the host to run.
pub(crate) const START_EXPORT: &str = "__refill_start";

/// The flag's value when a `memory.grow` passed the memory limit.
const MEMORY_HIT: i32 = 1;
/// The flag's value when a `table.grow` passed the table limit.
const TABLE_HIT: i32 = 2;

/// Pages of all of wasm32's 4 GiB, the most a memory without a declared
/// maximum can grow to.
const WASM32_PAGES: u64 = 1 << 16;
/// The most elements a table without a declared maximum can grow to.
const TABLE32_ELEMENTS: u64 = u32::MAX as u64;
/// Bytes per WebAssembly page.
const PAGE_BYTES: u64 = refill_core::abi::WASM_PAGE_SIZE;

/// A fresh singlepass compiler configuration for one compilation, with fuel
/// metering when `fuel_metering`, and the resource limiter whose record of
/// the module is read back after compiling.
pub(crate) fn singlepass_compiler(fuel_metering: bool) -> (Singlepass, Arc<ResourceLimiter>) {
    let mut compiler = Singlepass::new();
    if fuel_metering {
        // Before the limiter, so that the budget counts the guest's own
        // operators, not the checks added around `memory.grow`. The initial
        // budget is unlimited: every guest call gets its own (`before_call`).
        compiler.push_middleware(Arc::new(Metering::new(u64::MAX, |_: &Operator| 1)));
    }
    let limiter = Arc::new(ResourceLimiter::default());
    compiler.push_middleware(limiter.clone());
    (compiler, limiter)
}

/// How far one memory (in pages) or table (in elements) starts and may grow
/// as far as WebAssembly is concerned (its declared maximum, or all the
/// index type allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    initial: u64,
    maximum: u64,
}

/// The memories and tables a module declares (imported ones first, as in
/// their index spaces): what its instances are checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Declared {
    memories: Vec<Extent>,
    tables: Vec<Extent>,
}

impl Declared {
    /// What wasmer's module info says (for the limiter, which sees it).
    fn from_info(info: &ModuleInfo) -> Self {
        Self {
            memories: info
                .memories
                .values()
                .map(|ty| Extent {
                    initial: u64::from(ty.minimum.0),
                    maximum: ty.maximum.map_or(WASM32_PAGES, |max| u64::from(max.0)),
                })
                .collect(),
            tables: info
                .tables
                .values()
                .map(|ty| Extent {
                    initial: u64::from(ty.minimum),
                    maximum: ty.maximum.map_or(TABLE32_ELEMENTS, u64::from),
                })
                .collect(),
        }
    }

    /// What the binary declares (for modules compiled without the limiter,
    /// by an engine from `WasmerEngine::from_engine`); `wasm` has been
    /// validated by wasmer already.
    pub(crate) fn parse(wasm: &[u8]) -> Result<Self> {
        let malformed = |e: wasmparser::BinaryReaderError| {
            Error::new(
                ErrorKind::InvalidModule,
                "cannot read the module's sections",
            )
            .with_source(e)
        };
        let memory = |ty: wasmparser::MemoryType| Extent {
            initial: ty.initial,
            maximum: ty.maximum.unwrap_or(WASM32_PAGES),
        };
        let table = |ty: wasmparser::TableType| Extent {
            initial: ty.initial,
            maximum: ty.maximum.unwrap_or(TABLE32_ELEMENTS),
        };
        let mut declared = Self::default();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload.map_err(malformed)? {
                Payload::ImportSection(imports) => {
                    for import in imports.into_imports() {
                        match import.map_err(malformed)?.ty {
                            TypeRef::Memory(ty) => declared.memories.push(memory(ty)),
                            TypeRef::Table(ty) => declared.tables.push(table(ty)),
                            _ => {}
                        }
                    }
                }
                Payload::MemorySection(memories) => {
                    for ty in memories {
                        declared.memories.push(memory(ty.map_err(malformed)?));
                    }
                }
                Payload::TableSection(tables) => {
                    for t in tables {
                        declared.tables.push(table(t.map_err(malformed)?.ty));
                    }
                }
                _ => {}
            }
        }
        Ok(declared)
    }

    /// All memories' (or tables') `initial` or `maximum`, together.
    fn total(extents: &[Extent], size: impl Fn(&Extent) -> u64) -> u64 {
        extents
            .iter()
            .fold(0, |total, extent| total.saturating_add(size(extent)))
    }
}

/// What the limiter did to one module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    globals: Globals,
    /// Whether the module's start function was moved to [`START_EXPORT`].
    deferred_start: bool,
}

impl Layout {
    /// What the limiter does to `wasm` (which it compiled before, with fuel
    /// metering if `fuel_metering`), found again from the binary alone, for
    /// a module loaded from an artifact: its four globals follow the
    /// module's own (imported and defined) and, on a metered module, the
    /// two of `Metering`, which runs first; the start function, if there is
    /// one, is deferred. Reads the sections' headers only, not the code.
    pub(crate) fn of_binary(wasm: &[u8], fuel_metering: bool) -> Result<Self> {
        let malformed = |e: wasmparser::BinaryReaderError| {
            Error::new(
                ErrorKind::InvalidModule,
                "cannot read the module's sections",
            )
            .with_source(e)
        };
        // `Metering` adds its remaining points and its exhausted flag.
        let metering_globals = if fuel_metering { 2 } else { 0 };
        let (mut globals, mut deferred_start) = (metering_globals, false);
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload.map_err(malformed)? {
                Payload::ImportSection(imports) => {
                    for import in imports.into_imports() {
                        if let TypeRef::Global(_) = import.map_err(malformed)?.ty {
                            globals += 1;
                        }
                    }
                }
                Payload::GlobalSection(section) => globals += section.count(),
                Payload::StartSection { .. } => deferred_start = true,
                // The code is not needed: stop before it.
                Payload::CodeSectionStart { .. } => break,
                _ => {}
            }
        }
        Ok(Self {
            globals: Globals {
                limit_pages: globals,
                limit_elements: globals + 1,
                limit_hit: globals + 2,
                delta: globals + 3,
            },
            deferred_start,
        })
    }

    /// Whether `info`, the module wasmer loaded from an artifact, is what
    /// the limiter made of the binary this layout was read from: its
    /// globals exported under their names at their indexes, no start
    /// function left, and the same memories and tables as `declared`. A
    /// mismatch means the artifact is of another revision of the limiter.
    pub(crate) fn matches(&self, info: &ModuleInfo, declared: &Declared) -> bool {
        let exported = |name: &str, index: u32| matches!(info.exports.get(name), Some(ExportIndex::Global(global)) if global.as_u32() == index);
        exported(LIMIT_PAGES_EXPORT, self.globals.limit_pages)
            && exported(LIMIT_ELEMENTS_EXPORT, self.globals.limit_elements)
            && exported(LIMIT_HIT_EXPORT, self.globals.limit_hit)
            && info.globals.len() == self.globals.delta as usize + 1
            && info.start_function.is_none()
            && (!self.deferred_start || info.exports.contains_key(START_EXPORT))
            && Declared::from_info(info) == *declared
    }
}

/// What the limiter's middlewares emit, by revision: part of every wasmer
/// artifact's key. Bump it whenever `ResourceLimiter` or the metering
/// changes the code it generates, so that artifacts made before are stale.
pub(crate) const LIMITER_REVISION: u32 = 1;

/// The indexes of the limiter's globals in one module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Globals {
    limit_pages: u32,
    limit_elements: u32,
    limit_hit: u32,
    /// Holds the operand of `memory.grow` or `table.grow` while it is checked.
    delta: u32,
}

/// The module middleware that enforces the memory and table limits (see the
/// module docs). One per compilation: it remembers the one module it
/// transformed.
#[derive(Debug, Default)]
pub(crate) struct ResourceLimiter {
    record: Mutex<Option<(Layout, Arc<Declared>)>>,
    /// Why the limiter refused the module, if it did (see [`ResourceLimiter::refusal`]).
    refused: Mutex<Option<String>>,
}

impl ResourceLimiter {
    /// Why the limiter made the compilation fail, as refill-core's error:
    /// wasmer's own error only carries the message.
    pub(crate) fn refusal(&self) -> Option<Error> {
        lock(&self.refused)
            .as_ref()
            .map(|message| Error::new(ErrorKind::Unsupported, message.clone()))
    }

    /// What the limiter did to the module it compiled, and what the module
    /// declares.
    pub(crate) fn record(&self) -> Result<(Layout, Declared)> {
        lock(&self.record)
            .as_ref()
            .map(|(layout, declared)| (layout.clone(), Declared::clone(declared)))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Engine,
                    "wasmer compiled the module without refill's resource limiter",
                )
            })
    }
}

/// A mutex's contents, also after a panic elsewhere (they stay consistent:
/// every critical section here is a plain read or write).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

const MIDDLEWARE_NAME: &str = "refill-resource-limiter";

impl ModuleMiddleware for ResourceLimiter {
    fn generate_function_middleware<'a>(
        &self,
        _: LocalFunctionIndex,
    ) -> Box<dyn FunctionMiddleware<'a> + 'a> {
        let record = lock(&self.record)
            .as_ref()
            .map(|(layout, declared)| (layout.globals, declared.clone()));
        Box::new(FunctionLimiter { record })
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
            *lock(&self.refused) = Some(message.clone());
            return Err(MiddlewareError::new(MIDDLEWARE_NAME, message));
        }
        let mut record = lock(&self.record);
        if record.is_some() {
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
        // Unlimited (u64::MAX) until the host sets the instance's limits.
        let globals = Globals {
            limit_pages: add_global(
                Type::I64,
                GlobalInit::I64Const(-1),
                Some(LIMIT_PAGES_EXPORT),
            ),
            limit_elements: add_global(
                Type::I64,
                GlobalInit::I64Const(-1),
                Some(LIMIT_ELEMENTS_EXPORT),
            ),
            limit_hit: add_global(Type::I32, GlobalInit::I32Const(0), Some(LIMIT_HIT_EXPORT)),
            delta: add_global(Type::I32, GlobalInit::I32Const(0), None),
        };

        let deferred_start = match info.start_function.take() {
            Some(start) => {
                info.exports
                    .insert(START_EXPORT.to_owned(), ExportIndex::Function(start));
                true
            }
            None => false,
        };
        *record = Some((
            Layout {
                globals,
                deferred_start,
            },
            Arc::new(Declared::from_info(info)),
        ));
        Ok(())
    }
}

/// The limiter for one function: rewrites each `memory.grow` and `table.grow`.
#[derive(Debug)]
struct FunctionLimiter {
    /// The module's globals and what it declares; `None` only if wasmer did
    /// not call `transform_module_info` first.
    record: Option<(Globals, Arc<Declared>)>,
}

/// One of the two kinds of resource the limiter rewrites the growth of.
#[derive(Clone, Copy)]
enum Resource {
    Memory,
    Table,
}

impl Resource {
    /// `[] -> [size of `index`: i64]`.
    fn size(self, index: u32) -> [Operator<'static>; 2] {
        let size = match self {
            Self::Memory => Operator::MemorySize { mem: index },
            Self::Table => Operator::TableSize { table: index },
        };
        [size, Operator::I64ExtendI32U]
    }

    /// `[delta: i32] -> [old size or -1: i32]` (a table's `init` value below).
    fn grow(self, index: u32) -> Operator<'static> {
        match self {
            Self::Memory => Operator::MemoryGrow { mem: index },
            Self::Table => Operator::TableGrow { table: index },
        }
    }
}

impl<'a> FunctionMiddleware<'a> for FunctionLimiter {
    fn feed(
        &mut self,
        operator: Operator<'a>,
        state: &mut MiddlewareReaderState<'a>,
    ) -> Result<(), MiddlewareError> {
        let (resource, index) = match operator {
            Operator::MemoryGrow { mem } => (Resource::Memory, mem),
            Operator::TableGrow { table } => (Resource::Table, table),
            operator => {
                state.push_operator(operator);
                return Ok(());
            }
        };
        let (g, declared) = self.record.as_ref().ok_or_else(|| {
            MiddlewareError::new(
                MIDDLEWARE_NAME,
                "the module was not prepared for the resource limiter",
            )
        })?;
        let (all, limit, hit) = match resource {
            Resource::Memory => (&declared.memories, g.limit_pages, MEMORY_HIT),
            Resource::Table => (&declared.tables, g.limit_elements, TABLE_HIT),
        };
        let own_maximum = all.get(index as usize).map_or(0, |extent| extent.maximum);
        // [delta: i32] -> [old size or -1: i32]; a table's `init` value
        // stays below, untouched, until `table.grow` takes it. Traps, after
        // raising the flag, when the growth would succeed as far as
        // WebAssembly is concerned (this memory or table stays within its own
        // maximum) but takes all of them together past the instance's limit;
        // growth WebAssembly refuses still returns -1. Sizes in u64 cannot
        // overflow, and `delta` is unsigned for both, so both extensions are
        // too.
        let delta = [
            Operator::GlobalGet {
                global_index: g.delta,
            },
            Operator::I64ExtendI32U,
        ];
        state.push_operator(Operator::GlobalSet {
            global_index: g.delta,
        });
        // This one's new size is within its own maximum...
        state.extend(resource.size(index));
        state.extend(delta.clone());
        state.extend([
            Operator::I64Add,
            Operator::I64Const {
                value: own_maximum as i64,
            },
            Operator::I64LeU,
        ]);
        // ...and all of them together would be past the limit.
        state.extend(delta.clone());
        for other in 0..all.len() as u32 {
            state.extend(resource.size(other));
            state.push_operator(Operator::I64Add);
        }
        state.extend([
            Operator::GlobalGet {
                global_index: limit,
            },
            Operator::I64GtU,
            Operator::I32And,
            Operator::If {
                blockty: BlockType::Empty,
            },
            Operator::I32Const { value: hit },
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
            resource.grow(index),
        ]);
        Ok(())
    }
}

/// Checks, before instantiating, a module that declares `declared` against
/// `limits`: the numbers of memories, tables and instances and their
/// initial sizes; and, for a module compiled without refill's limiter
/// (`layout` is `None`), that its memories and tables cannot grow past the
/// limits at all, since nothing would stop them. (Fuel:
/// `Limits::fuel_per_call`; the deadline: `Limits::deadline_per_call`.)
pub(crate) fn check_module(
    layout: Option<&Layout>,
    declared: &Declared,
    limits: &Limits,
) -> Result<()> {
    // A store holds exactly one instance in refill, and a module cannot make
    // another (WebAssembly has no instruction for it).
    if limits.max_instances < 1 {
        return Err(count_exceeded("instances", Some(1), limits.max_instances));
    }
    let (memories, tables) = (declared.memories.len(), declared.tables.len());
    if memories as u64 > u64::from(limits.max_memories) {
        return Err(count_exceeded(
            "memories",
            Some(memories as u64),
            limits.max_memories,
        ));
    }
    if tables as u64 > u64::from(limits.max_tables) {
        return Err(count_exceeded(
            "tables",
            Some(tables as u64),
            limits.max_tables,
        ));
    }
    let initial_bytes =
        Declared::total(&declared.memories, |m| m.initial).saturating_mul(PAGE_BYTES);
    if initial_bytes > limits.max_memory_bytes {
        return Err(memory_exceeded(initial_bytes, limits.max_memory_bytes)
            .context("the module's initial memories"));
    }
    let initial_elements = Declared::total(&declared.tables, |t| t.initial);
    if initial_elements > limits.max_table_elements {
        return Err(tables_exceeded(initial_elements, limits.max_table_elements)
            .context("the module's initial tables"));
    }
    if layout.is_some() {
        return Ok(());
    }
    let most_bytes = Declared::total(&declared.memories, |m| m.maximum).saturating_mul(PAGE_BYTES);
    let most_elements = Declared::total(&declared.tables, |t| t.maximum);
    if most_bytes > limits.max_memory_bytes || most_elements > limits.max_table_elements {
        return Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "the module's memories may grow to {most_bytes} bytes and its tables to \
                 {most_elements} elements, past the limits ({} bytes, {} elements), and only an \
                 engine built by refill-wasmer (`WasmerEngine::new` or `with_config`), not \
                 `WasmerEngine::from_engine`, can stop them",
                limits.max_memory_bytes, limits.max_table_elements
            ),
        ));
    }
    Ok(())
}

/// One instance's limits at run time: the fuel of each call, the flag of
/// the memory and table limits, and the deadline of each call.
#[derive(Debug)]
pub(crate) struct InstanceLimits {
    /// The budget of each call (`Limits::fuel_per_call`); `Some` only on a
    /// metered module.
    fuel: Option<u64>,
    /// The limiter's flag; `None` for modules compiled without it.
    limit_hit: Option<Global>,
    max_memory_bytes: u64,
    max_table_elements: u64,
    deferred_start: bool,
    deadline: Option<CallDeadline>,
}

/// The deadline of each of one instance's calls: how long one may run, and
/// the engine's timer that stops it.
#[derive(Clone, Debug)]
pub(crate) struct Deadline {
    after: Duration,
    timer: DeadlineTimer,
}

/// A [`Deadline`] with the interrupter of the instance's store.
struct CallDeadline {
    deadline: Deadline,
    interrupter: Interrupter,
}

impl std::fmt::Debug for CallDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallDeadline")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl InstanceLimits {
    /// Sets the memory and table limits of a fresh instance of a module
    /// checked by [`check_module`]; each call will have `fuel` and end at
    /// its `deadline`.
    pub(crate) fn install(
        store: &mut Store,
        instance: &Instance,
        layout: Option<&Layout>,
        limits: &Limits,
        fuel: Option<u64>,
        deadline: Option<Deadline>,
    ) -> Result<Self> {
        let mut limit_hit = None;
        if layout.is_some() {
            let global = |name: &str| {
                instance.exports.get_global(name).cloned().map_err(|e| {
                    Error::new(ErrorKind::Engine, format!("the limiter's `{name}` is gone"))
                        .with_source(e)
                })
            };
            for (name, limit) in [
                (LIMIT_PAGES_EXPORT, limits.max_memory_pages()),
                (LIMIT_ELEMENTS_EXPORT, limits.max_table_elements),
            ] {
                global(name)?.set(store, Value::from(limit)).map_err(|e| {
                    Error::new(ErrorKind::Engine, format!("cannot set `{name}`")).with_source(e)
                })?;
            }
            limit_hit = Some(global(LIMIT_HIT_EXPORT)?);
        }
        Ok(Self {
            fuel,
            limit_hit,
            max_memory_bytes: limits.max_memory_bytes,
            max_table_elements: limits.max_table_elements,
            deferred_start: layout.is_some_and(|layout| layout.deferred_start),
            deadline: deadline.map(|deadline| CallDeadline {
                deadline,
                interrupter: interrupter(store),
            }),
        })
    }

    /// Whether the host has to run the module's start function itself
    /// (exported as [`START_EXPORT`]).
    pub(crate) fn deferred_start(&self) -> bool {
        self.deferred_start
    }

    /// Runs one guest call within the limits: a fresh fuel budget, the
    /// deadline armed while it runs; a failure becomes the limit it hit, if
    /// any.
    pub(crate) fn call<R>(
        &self,
        store: &mut Store,
        instance: &Instance,
        call: impl FnOnce(&mut Store) -> Result<R, RuntimeError>,
    ) -> Result<R> {
        if let Some(fuel) = self.fuel {
            set_remaining_points(store, instance, fuel);
        }
        let armed = match &self.deadline {
            Some(CallDeadline {
                deadline,
                interrupter,
            }) => deadline.timer.arm(deadline.after, interrupter)?,
            None => None,
        };
        // Disarmed when the call returns, or (dropped) when a panic unwinds
        // through it.
        let outcome = call(store);
        let fired = armed.is_some_and(Armed::disarm);
        outcome.map_err(|error| self.failed(store, instance, error, fired))
    }

    /// The refill error behind a failed guest call: the deadline, a refill
    /// trap raised by a host function, the memory or table limit, the fuel
    /// budget, the stack, or the guest's own trap.
    fn failed(
        &self,
        store: &mut Store,
        instance: &Instance,
        error: RuntimeError,
        deadline_fired: bool,
    ) -> Error {
        // Read and cleared whatever decides the kind, so that it cannot
        // leak into the next call.
        let hit = match &self.limit_hit {
            Some(flag) => match flag.get(store) {
                Value::I32(0) => None,
                hit => {
                    // Cannot fail on the limiter's own mutable i32 global.
                    let _ = flag.set(store, Value::I32(0));
                    Some(hit)
                }
            },
            None => None,
        };
        let trap = error.clone().to_trap();
        if let Some(deadline) = &self.deadline
            && (deadline_fired || trap == Some(TrapCode::HostInterrupt))
        {
            // Whatever else the call was doing when it was stopped.
            return Error::new(
                ErrorKind::DeadlineExceeded,
                format!(
                    "the call ran past its deadline of {:?} and was stopped",
                    deadline.deadline.after
                ),
            )
            .with_source(error);
        }
        if error.is::<RefillTrap>() {
            return from_call(error);
        }
        match hit {
            Some(Value::I32(MEMORY_HIT)) => {
                return Error::new(
                    ErrorKind::MemoryLimitExceeded,
                    format!(
                        "the guest tried to grow its memory past the limit of {} bytes \
                         (all memories together)",
                        self.max_memory_bytes
                    ),
                )
                .with_source(error);
            }
            Some(Value::I32(TABLE_HIT)) => {
                return Error::new(
                    ErrorKind::TableLimitExceeded,
                    format!(
                        "the guest tried to grow its tables past the limit of {} elements \
                         (all tables together)",
                        self.max_table_elements
                    ),
                )
                .with_source(error);
            }
            _ => {}
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
        if trap == Some(TrapCode::StackOverflow) {
            return Error::new(
                ErrorKind::StackExhausted,
                "the guest's call stack outgrew the engine's stack (`EngineConfig::max_stack_bytes`)",
            )
            .with_source(error);
        }
        from_call(error)
    }
}

#[cfg(unix)]
use wasmer::Interrupter;

/// Where wasmer 7.4 cannot interrupt (not on unix), an engine has no timer
/// and no instance a deadline, so this is never used.
#[cfg(not(unix))]
#[derive(Clone)]
struct Interrupter;

#[cfg(not(unix))]
impl Interrupter {
    fn interrupt(&self) {}
}

/// The interrupter of a store's calls.
fn interrupter(store: &Store) -> Interrupter {
    #[cfg(unix)]
    return store.interrupter();
    #[cfg(not(unix))]
    {
        let _ = store;
        Interrupter
    }
}

/// Whether wasmer can interrupt a running guest here: with its feature
/// `experimental-host-interrupt`, on unix only (it signals the thread).
pub(crate) const CAN_INTERRUPT: bool = cfg!(unix);

/// How long the timer waits before interrupting a call again that is still
/// running after an interrupt: wasmer's own docs say one can be missed
/// (when it lands outside guest code, in a trampoline or a libcall).
const INTERRUPT_RETRY: Duration = Duration::from_millis(10);

/// One engine's deadline timer: a thread of its own, started by the first
/// call with a deadline, that interrupts each call still running at its
/// deadline, and again every [`INTERRUPT_RETRY`] until the call ends. The
/// engine, its modules and their instances share it; the thread ends with
/// the last of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeadlineTimer {
    owner: Arc<TimerOwner>,
}

/// Ends the timer's thread when dropped.
#[derive(Debug, Default)]
struct TimerOwner {
    shared: Arc<TimerShared>,
}

/// What the timer's thread and the calls share.
#[derive(Default)]
struct TimerShared {
    state: Mutex<TimerState>,
    /// Wakes the thread: a call with an earlier deadline, or the end.
    wake: Condvar,
}

#[derive(Default)]
struct TimerState {
    /// The calls running with a deadline.
    calls: Vec<TimedCall>,
    next_id: u64,
    started: bool,
    stopped: bool,
    /// When the thread wakes next by itself (`None`: only when woken).
    wakes_at: Option<Instant>,
}

/// One call running with a deadline.
struct TimedCall {
    id: u64,
    /// When to interrupt it (again).
    interrupt_at: Instant,
    interrupter: Interrupter,
    /// Whether it was interrupted.
    fired: bool,
}

impl std::fmt::Debug for TimerShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("DeadlineTimer")
            .field("started", &state.started)
            .field("running_calls", &state.calls.len())
            .finish()
    }
}

impl Drop for TimerOwner {
    fn drop(&mut self) {
        lock(&self.shared.state).stopped = true;
        self.shared.wake.notify_one();
    }
}

impl DeadlineTimer {
    /// The deadline of calls that may run `after`, enforced by this timer.
    pub(crate) fn deadline(&self, after: Duration) -> Deadline {
        Deadline {
            after,
            timer: self.clone(),
        }
    }

    /// Registers a call that starts now and may run `after`; it is
    /// interrupted if it is still registered then.
    fn arm(&self, after: Duration, interrupter: &Interrupter) -> Result<Option<Armed>> {
        let shared = &self.owner.shared;
        // A deadline past what `Instant` can hold is no deadline.
        let Some(interrupt_at) = Instant::now().checked_add(after) else {
            return Ok(None);
        };
        let mut state = lock(&shared.state);
        if !state.started {
            let thread_shared = shared.clone();
            thread::Builder::new()
                .name("refill-wasmer-deadlines".into())
                .spawn(move || run_timer(&thread_shared))
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Engine,
                        "cannot start the deadline timer's thread",
                    )
                    .with_source(e)
                })?;
            state.started = true;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.calls.push(TimedCall {
            id,
            interrupt_at,
            interrupter: interrupter.clone(),
            fired: false,
        });
        if state
            .wakes_at
            .is_none_or(|wakes_at| interrupt_at < wakes_at)
        {
            shared.wake.notify_one();
        }
        Ok(Some(Armed {
            shared: shared.clone(),
            id,
            registered: true,
        }))
    }
}

#[cfg(test)]
impl DeadlineTimer {
    /// Whether `self` and `other` are one timer.
    pub(crate) fn shares(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.owner, &other.owner)
    }

    /// Whether its thread runs, and how many calls it times.
    pub(crate) fn status(&self) -> (bool, usize) {
        let state = lock(&self.owner.shared.state);
        (state.started, state.calls.len())
    }
}

/// The timer's thread: interrupts the calls past their deadline, sleeps
/// until the next one, until the last owner is gone. It interrupts with the
/// state locked, so a call that has deregistered ([`Armed::disarm`]) is
/// never interrupted, nor is the next call of its store.
fn run_timer(shared: &TimerShared) {
    let mut state = lock(&shared.state);
    while !state.stopped {
        let now = Instant::now();
        let mut next = None::<Instant>;
        for call in &mut state.calls {
            if call.interrupt_at <= now {
                call.interrupter.interrupt();
                call.fired = true;
                call.interrupt_at = now + INTERRUPT_RETRY;
            }
            next = Some(next.map_or(call.interrupt_at, |next| next.min(call.interrupt_at)));
        }
        state.wakes_at = next;
        state = match next {
            Some(at) => {
                let timeout = at.saturating_duration_since(now);
                shared
                    .wake
                    .wait_timeout(state, timeout)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .wake
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// A call registered with the timer; deregistered when disarmed or dropped.
#[must_use]
struct Armed {
    shared: Arc<TimerShared>,
    id: u64,
    registered: bool,
}

impl Armed {
    /// Deregisters the call; whether the timer interrupted it.
    fn disarm(mut self) -> bool {
        self.deregister()
    }

    fn deregister(&mut self) -> bool {
        if !std::mem::take(&mut self.registered) {
            return false;
        }
        let mut state = lock(&self.shared.state);
        match state.calls.iter().position(|call| call.id == self.id) {
            Some(at) => state.calls.swap_remove(at).fired,
            None => false,
        }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.deregister();
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
        let deadline = Limits::default().with_deadline(Some(Duration::from_millis(50)));
        assert_eq!(
            kind(instantiate(&engine, &spins, deadline)),
            ErrorKind::DeadlineExceeded
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
        // Past all of wasm32, under a limit of all of it.
        let mut instance =
            instantiate(&engine, &module(grow), Limits::trusted()).expect("instance");
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
        let pages = |n: u64| {
            Limits::default()
                .with_max_memories(2)
                .with_max_memory_bytes(n * 65_536)
        };
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
    fn the_numbers_of_memories_tables_and_instances_are_bounded() {
        let engine = WasmerEngine::new();
        let two_memories = module("(memory 0)");
        assert_eq!(
            kind(instantiate(&engine, &two_memories, Limits::default())),
            ErrorKind::MemoryLimitExceeded,
            "one memory by default"
        );
        let limits = Limits::default().with_max_memories(2);
        assert!(instantiate(&engine, &two_memories, limits).is_ok());

        let five_tables = module(&"(table 0 funcref)".repeat(5));
        assert_eq!(
            kind(instantiate(&engine, &five_tables, Limits::default())),
            ErrorKind::TableLimitExceeded,
            "four tables by default"
        );
        let limits = Limits::default().with_max_tables(5);
        assert!(instantiate(&engine, &five_tables, limits).is_ok());

        // One instance per store, always: a limit of none refuses it.
        let plain = module("");
        let none = Limits::default().with_max_instances(0);
        assert_eq!(
            kind(instantiate(&engine, &plain, none)),
            ErrorKind::InstanceLimitExceeded
        );
        assert!(instantiate(&engine, &plain, Limits::default()).is_ok());
    }

    #[test]
    fn all_tables_count_together_at_instantiation_and_growth() {
        let engine = WasmerEngine::new();
        let wasm = module(
            r#"(table $a 2 funcref)
            (table $b 3 6 externref)
            (func (export "grow_a") (param i64) (result i64)
              (i64.extend_i32_s (table.grow $a (ref.null func) (i32.wrap_i64 (local.get 0)))))
            (func (export "grow_b") (param i64) (result i64)
              (i64.extend_i32_s (table.grow $b (ref.null extern) (i32.wrap_i64 (local.get 0)))))
            (func (export "size") (result i64)
              (i64.extend_i32_u (i32.add (table.size $a) (table.size $b))))"#,
        );
        let elements = |n: u64| Limits::default().with_max_table_elements(n);
        assert_eq!(
            kind(instantiate(&engine, &wasm, elements(4))),
            ErrorKind::TableLimitExceeded,
            "2 + 3 initial elements"
        );
        let mut instance = instantiate(&engine, &wasm, elements(10)).expect("instance");
        assert_eq!(instance.call("grow_a", &[3]).expect("grow"), 2);
        // Past $b's own maximum: WebAssembly's -1, not the limit.
        assert_eq!(instance.call("grow_b", &[4]).expect("grow"), -1);
        // 5 + 3 + 2 = 10 elements: at the limit, not past it.
        assert_eq!(instance.call("grow_b", &[2]).expect("grow"), 3);
        assert_eq!(
            kind(instance.call("grow_a", &[1])),
            ErrorKind::TableLimitExceeded
        );
        assert_eq!(instance.call("size", &[]).expect("size"), 10, "no growth");
        // The flag was cleared: the next trap is the guest's own.
        assert_eq!(instance.call("grow_a", &[0]).expect("grow"), 5);
        assert_eq!(instance.call("grow_a", &[-1]).expect("grow"), -1);

        // Without a declared maximum, a huge growth is stopped before wasmer
        // allocates for it.
        let mut instance = instantiate(&engine, &wasm, Limits::default()).expect("instance");
        assert_eq!(
            kind(instance.call("grow_a", &[1 << 30])),
            ErrorKind::TableLimitExceeded
        );
    }

    #[test]
    fn filling_initialising_and_copying_tables_never_grows_them() {
        let engine = WasmerEngine::new();
        let wasm = module(
            r#"(table $t 2 funcref)
            (elem $passive func $f $f $f)
            (elem (table $t) (i32.const 0) func $f)
            (func $f)
            (func (export "fill") (param i64) (result i64)
              (table.fill $t (i32.const 0) (ref.func $f) (i32.wrap_i64 (local.get 0)))
              (i64.extend_i32_u (table.size $t)))
            (func (export "init") (param i64) (result i64)
              (table.init $t $passive (i32.const 0) (i32.const 0) (i32.wrap_i64 (local.get 0)))
              (i64.extend_i32_u (table.size $t)))
            (func (export "copy") (param i64) (result i64)
              (table.copy $t $t (i32.const 1) (i32.const 0) (i32.wrap_i64 (local.get 0)))
              (i64.extend_i32_u (table.size $t)))"#,
        );
        let limits = Limits::default().with_max_table_elements(2);
        let mut instance = instantiate(&engine, &wasm, limits).expect("instance");
        for export in ["fill", "init", "copy"] {
            assert_eq!(instance.call(export, &[1]).expect(export), 2);
            // Past the table's end: the guest's own trap, no growth.
            assert_eq!(
                kind(instance.call(export, &[3])),
                ErrorKind::Trap,
                "{export}"
            );
        }
        // An active segment past the table's end fails instantiation.
        let past = module(r#"(table 1 funcref) (elem (i32.const 1) func $f) (func $f)"#);
        assert_eq!(
            kind(instantiate(&engine, &past, Limits::default())),
            ErrorKind::Instantiation
        );
    }

    #[test]
    fn the_limiters_exports_are_not_the_guests() {
        let engine = WasmerEngine::new();
        let wasm = module(r#"(func $s) (start $s)"#);
        let mut instance = instantiate(&engine, &wasm, Limits::default()).expect("instance");
        for name in [
            START_EXPORT,
            LIMIT_PAGES_EXPORT,
            LIMIT_ELEMENTS_EXPORT,
            LIMIT_HIT_EXPORT,
        ] {
            assert_eq!(kind(instance.call(name, &[])), ErrorKind::MissingExport);
        }
    }

    #[test]
    fn an_embedders_engine_limits_only_what_cannot_grow() {
        let engine = WasmerEngine::from_engine(wasmer::sys::Singlepass::default().into());
        let unbounded = module("");
        assert_eq!(
            kind(instantiate(
                &engine,
                &unbounded,
                Limits::trusted().with_fuel(Some(1))
            )),
            ErrorKind::Unsupported
        );
        // Its memory could grow past 256 MiB and nothing would stop it.
        assert_eq!(
            kind(instantiate(&engine, &unbounded, Limits::default())),
            ErrorKind::Unsupported
        );
        assert!(instantiate(&engine, &unbounded, Limits::trusted()).is_ok());
        // Bounded by its own maximums, it needs no middleware.
        let bounded = wat::parse_str(
            r#"(module (memory (export "memory") 1 16) (table 1 8 funcref)
            (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0))"#,
        )
        .expect("test module");
        assert!(instantiate(&engine, &bounded, Limits::default()).is_ok());
        let small = Limits::default().with_max_table_elements(4);
        assert_eq!(
            kind(instantiate(&engine, &bounded, small)),
            ErrorKind::Unsupported
        );
        // Counts and initial sizes are checked as on refill's own engines.
        let two = module("(memory 0 1)");
        assert_eq!(
            kind(instantiate(
                &engine,
                &two,
                Limits::trusted().with_max_memories(1)
            )),
            ErrorKind::MemoryLimitExceeded
        );
        let big = Limits::trusted().with_max_table_elements(0);
        assert_eq!(
            kind(instantiate(&engine, &bounded, big)),
            ErrorKind::TableLimitExceeded
        );
    }

    /// An endless loop, and the calls refill makes itself, each with a
    /// short deadline.
    const SPIN: &str = r#"(memory (export "memory") 1)
        (global $spin (mut i32) (i32.const 0))
        (func $spin (loop $l (br_if $l (global.get $spin))))
        (func (export "spin_next") (result i64) (global.set $spin (i32.const 1)) (i64.const 0))
        (func (export "spin") (result i64) (loop $l (br $l)) (i64.const 0))
        (func (export "calm") (result i64) (i64.const 7))
        (func (export "__frnt_set_id") (param i64) (call $spin))
        (func (export "__frnt__initiate_buffer") (param i32) (result i64)
          (call $spin) (i64.const 0))"#;

    #[test]
    fn a_deadline_stops_every_guest_call_and_the_instance_goes_on() {
        let engine = WasmerEngine::new();
        let wasm = wat::parse_str(format!("(module {SPIN})")).expect("test module");
        let deadline = Duration::from_millis(100);
        let limits = Limits::default().with_deadline(Some(deadline));
        let mut instance = instantiate(&engine, &wasm, limits.clone()).expect("instance");
        for _ in 0..3 {
            let started = Instant::now();
            let e = instance.call("spin", &[]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
            assert!(started.elapsed() >= deadline);
            // The store can be entered again: the instance works on.
            assert_eq!(instance.call("calm", &[]).expect("call"), 7);
        }
        // `__frnt__initiate_buffer`, through opening a stream.
        instance.call("spin_next", &[]).expect("call");
        let source = Box::new(refill_core::BytesSource::new(vec![1, 2, 3]));
        let e = instance
            .open_stream(source, refill_core::StreamOptions::new())
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");

        // `__frnt_set_id`, at instantiation (the start function: above).
        let spins_at_set_id = wat::parse_str(format!(
            r#"(module {SPIN} (func $s (global.set $spin (i32.const 1))) (start $s))"#
        ))
        .expect("test module");
        assert_eq!(
            kind(instantiate(&engine, &spins_at_set_id, limits)),
            ErrorKind::DeadlineExceeded
        );
    }

    #[test]
    fn calls_with_different_deadlines_stop_independently() {
        let engine = WasmerEngine::new();
        let wasm = wat::parse_str(format!("(module {SPIN})")).expect("test module");
        let linked = engine
            .compile(&wasm)
            .expect("compiles")
            .link(&Default::default());
        let linked = linked.expect("links");
        let threads: Vec<_> = [200, 50, 400, 100]
            .into_iter()
            .map(|ms| {
                let linked = linked.clone();
                std::thread::spawn(move || {
                    let deadline = Duration::from_millis(ms);
                    let config = InstanceConfig::new()
                        .with_limits(Limits::default().with_deadline(Some(deadline)));
                    let mut instance =
                        refill_core::LinkedModule::instantiate(&linked, &config).expect("instance");
                    let started = Instant::now();
                    let e = instance.call("spin", &[]).unwrap_err();
                    (e.kind(), started.elapsed() >= deadline)
                })
            })
            .collect();
        for thread in threads {
            assert_eq!(
                thread.join().expect("thread"),
                (ErrorKind::DeadlineExceeded, true)
            );
        }
    }

    #[test]
    fn a_host_function_past_the_deadline_ends_the_call_when_it_returns() {
        let wasm = wat::parse_str(format!(
            r#"(module (import "env" "nap" (func $nap)) {PRELUDE}
            (func (export "napping") (result i64) (loop $l (call $nap) (br $l)) (i64.const 0)))"#
        ))
        .expect("test module");
        let mut host = refill_core::HostFunctions::new();
        host.func(
            "env",
            "nap",
            |_: &mut refill_core::Caller<'_>| -> Result<()> {
                thread::sleep(Duration::from_millis(30));
                Ok(())
            },
        );
        let linked = WasmerEngine::new()
            .compile(&wasm)
            .and_then(|module| module.link(&host))
            .expect("links");
        let deadline = Duration::from_millis(100);
        let config =
            InstanceConfig::new().with_limits(Limits::default().with_deadline(Some(deadline)));
        let mut instance =
            refill_core::LinkedModule::instantiate(&linked, &config).expect("instance");
        let started = Instant::now();
        let e = instance.call("napping", &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
        assert!(started.elapsed() >= deadline);
    }

    #[test]
    fn a_deadline_needs_an_engine_that_interrupts() {
        let off = WasmerEngine::with_config(&EngineConfig::new().with_interruption(false))
            .expect("engine");
        let wasm = wat::parse_str(format!("(module {SPIN})")).expect("test module");
        assert_eq!(
            kind(instantiate(&off, &wasm, Limits::default())),
            ErrorKind::Unsupported
        );
        let mut instance =
            instantiate(&off, &wasm, Limits::default().with_deadline(None)).expect("instance");
        assert_eq!(instance.call("calm", &[]).expect("call"), 7);
    }

    /// Recursion without end, and to a depth of about 3 MiB of stack (each
    /// frame holds 32 i64 locals: 256 bytes and more).
    const RECURSE: &str = r#"(memory (export "memory") 1)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
        (func $forever (export "forever") (result i64) (call $forever))
        (func $deep (param $n i64) (result i64)
          (local i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64
                 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64 i64)
          (local.set 1 (local.get $n))
          (if (result i64) (i64.eqz (local.get $n))
            (then (i64.const 0))
            (else (i64.add (local.get 1)
                           (call $deep (i64.sub (local.get $n) (i64.const 1)))))))
        (func (export "deep") (param i64) (result i64) (call $deep (local.get 0)))"#;

    #[test]
    fn endless_recursion_exhausts_the_guests_stack_not_the_hosts() {
        let wasm = wat::parse_str(format!("(module {RECURSE})")).expect("test module");
        let mut instance =
            instantiate(&WasmerEngine::new(), &wasm, Limits::default()).expect("instance");
        for _ in 0..3 {
            let e = instance.call("forever", &[]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::StackExhausted, "{e}");
        }
        assert_eq!(instance.call("deep", &[10]).expect("call"), 55);
    }

    #[test]
    fn the_engines_stack_size_bounds_the_guest() {
        let wasm = wat::parse_str(format!("(module {RECURSE})")).expect("test module");
        let depth = 12_000; // over 3 MiB of frames
        // 512 KiB by default: too deep. (Before the larger engine below, so
        // that no larger stack is in wasmer's process-wide pool yet; see
        // the README.)
        let mut small =
            instantiate(&WasmerEngine::new(), &wasm, Limits::default()).expect("instance");
        assert_eq!(
            kind(small.call("deep", &[depth])),
            ErrorKind::StackExhausted
        );
        let config = EngineConfig::new().with_max_stack_bytes(16 << 20);
        let large = WasmerEngine::with_config(&config).expect("engine");
        let mut large = instantiate(&large, &wasm, Limits::default()).expect("instance");
        assert_eq!(
            large.call("deep", &[depth]).expect("call"),
            depth * (depth + 1) / 2
        );
        for bytes in [0, 4 << 10, 200 << 20] {
            let config = EngineConfig::new().with_max_stack_bytes(bytes);
            assert_eq!(
                kind(WasmerEngine::with_config(&config)),
                ErrorKind::Unsupported
            );
        }
    }
}
