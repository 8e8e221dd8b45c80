//! Host functions as wasmi functions: types converted, the calling
//! instance's memory and host data lent to refill-core's `Caller`.
//!
//! wasmi 2.0 has no store-independent `InstancePre`: a `wasmi::Func` belongs
//! to one store. So a module is linked once (its imports resolved to a
//! `Linkage`, each function's wasmi type converted, into [`LinkedFunc`]s),
//! and each instantiation defines one `Func` per import, in import order,
//! with no lookups by name.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use refill_core::{Caller, FuncType, HostFunc, ImportType, Val, ValType, WasmValue};
use wasmi::{ExternType, Store};

use crate::error::trap;
use crate::state::StoreData;

/// One host function, resolved for one import and ready to be defined in
/// any store of the engine. Shared, so that defining it per instantiation
/// copies no names or types.
#[derive(Clone, Debug)]
pub(crate) struct LinkedFunc {
    ty: wasmi::FuncType,
    func: Arc<HostFunc>,
    /// How to define it through wasmi's typed `Func::wrap`, if its
    /// signature is one of `refill_core::for_each_typed_signature!`.
    typed: Option<DefineTyped>,
    /// A stream import of a module linked for async calls: it suspends
    /// the guest when its stream must wait.
    #[cfg(feature = "async")]
    suspends: bool,
}

/// Defines a host function of one signature through `Func::wrap`.
type DefineTyped = fn(&mut Store<StoreData>, HostFunc) -> wasmi::Func;

impl LinkedFunc {
    /// `func` with its type converted to wasmi's, and its typed binding
    /// picked, once; `is_async` if the module is linked for async calls.
    pub(crate) fn new(func: &HostFunc, is_async: bool) -> Self {
        #[cfg(not(feature = "async"))]
        let _ = is_async;
        Self {
            ty: func_type(func.ty()),
            func: Arc::new(func.clone()),
            typed: define_typed(func.ty()),
            #[cfg(feature = "async")]
            suspends: is_async
                && refill_core::asynchronous::is_stream_import(func.module(), func.name()),
        }
    }

    /// Defines the function in `store`: through wasmi's typed `Func::wrap`
    /// for the signatures refill-core lists (the refill import's among
    /// them: the hot path), through the untyped `Func::new` for any other.
    /// The guest's memory and host data are found through the calling
    /// instance's own store, never through guest values.
    pub(crate) fn define(&self, store: &mut Store<StoreData>) -> wasmi::Func {
        #[cfg(feature = "async")]
        if self.suspends {
            return crate::asynchronous::define_suspending(store, Arc::clone(&self.func));
        }
        if let Some(define) = self.typed {
            return define(store, HostFunc::clone(&self.func));
        }
        let func = Arc::clone(&self.func);
        wasmi::Func::new(
            store,
            self.ty.clone(),
            move |mut caller: wasmi::Caller<'_, StoreData>,
                  params: &[wasmi::Val],
                  results: &mut [wasmi::Val]|
                  -> Result<(), wasmi::Error> {
                let params = params.iter().map(from_wasmi);
                // wasmi sizes `results` by the same type `HostFunc::call`
                // checks against; `get_mut` keeps a mismatch from panicking.
                let store_result = |i: usize, v: Val| {
                    if let Some(slot) = results.get_mut(i) {
                        *slot = to_wasmi(v);
                    }
                };
                with_caller(&mut caller, |caller| {
                    func.call_with(caller, params, store_result)
                })
            },
        )
    }
}

/// Runs `call` with the calling instance's memory (once known) and host
/// data lent to refill-core's `Caller`; an error becomes the trap.
pub(crate) fn with_caller<R>(
    caller: &mut wasmi::Caller<'_, StoreData>,
    call: impl FnOnce(&mut Caller<'_>) -> refill_core::Result<R>,
) -> Result<R, wasmi::Error> {
    let outcome = match caller.data().memory {
        Some(memory) => {
            let (mut bytes, data) = memory.data_and_store_mut(&mut *caller);
            call(&mut Caller::new(Some(&mut bytes), &mut data.host))
        }
        None => call(&mut Caller::new(None, &mut caller.data_mut().host)),
    };
    outcome.map_err(trap)
}

/// `define_typed`, for the signatures refill-core lists.
macro_rules! define_typed {
    ($([$($param:ident: $ty:ident),*] -> [$($result:ident)?];)*) => {
        /// The typed binding for a function of type `ty`, if it is one of
        /// the typed signatures.
        fn define_typed(ty: &FuncType) -> Option<DefineTyped> {
            $(
                if ty.params() == [$(ValType::$ty),*] && ty.results() == [$(ValType::$result)?] {
                    return Some(|store, func| {
                        wasmi::Func::wrap(
                            store,
                            move |mut caller: wasmi::Caller<'_, StoreData>,
                                  $($param: refill_core::wasm_rust_type!($ty)),*|
                                  -> Result<refill_core::wasm_result_type!($($result)?), wasmi::Error> {
                                with_caller(&mut caller, |caller| {
                                    func.call_typed(caller, &[$(WasmValue::into_val($param)),*])
                                })
                            },
                        )
                    });
                }
            )*
            None
        }
    };
}

refill_core::for_each_typed_signature!(define_typed);

/// What a module imports under one name, in refill-core's terms.
pub(crate) fn import_type(ty: &ExternType) -> ImportType {
    match ty {
        ExternType::Func(func) => {
            let params: Option<Vec<ValType>> = func.params().iter().map(val_type).collect();
            let results: Option<Vec<ValType>> = func.results().iter().map(val_type).collect();
            match (params, results) {
                (Some(params), Some(results)) => ImportType::Func(FuncType::new(params, results)),
                _ => ImportType::Other(format!(
                    "function ({}) -> ({})",
                    type_names(func.params()),
                    type_names(func.results())
                )),
            }
        }
        ExternType::Memory(_) => ImportType::Other("memory".into()),
        ExternType::Table(_) => ImportType::Other("table".into()),
        ExternType::Global(_) => ImportType::Other("global".into()),
    }
}

/// A wasmi value type as refill-core's, if it is a number type.
fn val_type(ty: &wasmi::ValType) -> Option<ValType> {
    Some(match ty {
        wasmi::ValType::I32 => ValType::I32,
        wasmi::ValType::I64 => ValType::I64,
        wasmi::ValType::F32 => ValType::F32,
        wasmi::ValType::F64 => ValType::F64,
        wasmi::ValType::V128 | wasmi::ValType::FuncRef | wasmi::ValType::ExternRef => {
            return None;
        }
    })
}

/// `i32, funcref`: wasmi types as the text format names them, for messages.
fn type_names(types: &[wasmi::ValType]) -> String {
    let name = |ty: &wasmi::ValType| match ty {
        wasmi::ValType::I32 => "i32",
        wasmi::ValType::I64 => "i64",
        wasmi::ValType::F32 => "f32",
        wasmi::ValType::F64 => "f64",
        wasmi::ValType::V128 => "v128",
        wasmi::ValType::FuncRef => "funcref",
        wasmi::ValType::ExternRef => "externref",
    };
    types.iter().map(name).collect::<Vec<_>>().join(", ")
}

fn func_type(ty: &FuncType) -> wasmi::FuncType {
    let convert = |t: &ValType| match t {
        ValType::I32 => wasmi::ValType::I32,
        ValType::I64 => wasmi::ValType::I64,
        ValType::F32 => wasmi::ValType::F32,
        ValType::F64 => wasmi::ValType::F64,
    };
    // At most `MAX_HOST_VALUES` each, far below wasmi's own limit, so
    // `FuncType::new` (which panics past it) cannot fail here.
    wasmi::FuncType::new(
        ty.params().iter().map(convert),
        ty.results().iter().map(convert),
    )
}

/// A wasmi value as refill-core's; a reference or vector value (which no
/// host function's type admits) becomes an `i32` 0 that the type check of
/// `HostFunc::call` then refuses.
fn from_wasmi(val: &wasmi::Val) -> Val {
    match val {
        wasmi::Val::I32(v) => Val::I32(*v),
        wasmi::Val::I64(v) => Val::I64(*v),
        wasmi::Val::F32(v) => Val::F32(v.to_bits()),
        wasmi::Val::F64(v) => Val::F64(v.to_bits()),
        wasmi::Val::V128(_) | wasmi::Val::FuncRef(_) | wasmi::Val::ExternRef(_) => Val::I32(0),
    }
}

fn to_wasmi(val: Val) -> wasmi::Val {
    match val {
        Val::I32(v) => wasmi::Val::I32(v),
        Val::I64(v) => wasmi::Val::I64(v),
        Val::F32(bits) => wasmi::Val::F32(wasmi::F32::from_bits(bits)),
        Val::F64(bits) => wasmi::Val::F64(wasmi::F64::from_bits(bits)),
    }
}
