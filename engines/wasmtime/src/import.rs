//! Host functions as wasmtime functions: types converted, the calling
//! instance's memory and host data lent to refill-core's `Caller`.

use refill_core::{Caller, FuncType, HostFunc, ImportType, Val, ValType, WasmValue};
use wasmtime::{AsContextMut, Engine, ExternType, Linker};

use crate::error::trap;
use crate::state::StoreData;

/// Defines `func` in `linker` under its module and name: through
/// wasmtime's typed `func_wrap` for the signatures of
/// `refill_core::for_each_typed_signature!` (the refill import's among them:
/// the hot path), through the untyped `func_new` for any other. The guest's
/// memory and host data are found through the calling instance's own store,
/// never through guest values.
pub(crate) fn define(linker: &mut Linker<StoreData>, func: &HostFunc) -> wasmtime::Result<()> {
    if let Some(defined) = define_typed(linker, func) {
        return defined;
    }
    let ty = func_type(linker.engine(), func.ty());
    let (module, name) = (func.module(), func.name());
    let func = func.clone();
    linker.func_new(
        module,
        name,
        ty,
        move |mut caller: wasmtime::Caller<'_, StoreData>,
              params: &[wasmtime::Val],
              results: &mut [wasmtime::Val]| {
            let params = params.iter().map(from_wasmtime);
            with_caller(&mut caller, |caller| {
                func.call_with(caller, params, |i, v| results[i] = to_wasmtime(v))
            })
        },
    )?;
    Ok(())
}

/// Runs `call` with the calling instance's memory (once known) and host
/// data lent to refill-core's `Caller`; an error becomes the trap.
pub(crate) fn with_caller<R>(
    caller: &mut wasmtime::Caller<'_, StoreData>,
    call: impl FnOnce(&mut Caller<'_>) -> refill_core::Result<R>,
) -> wasmtime::Result<R> {
    let mut store = caller.as_context_mut();
    let outcome = match store.data().memory {
        Some(memory) => {
            let (mut bytes, data) = memory.data_and_store_mut(&mut store);
            call(&mut Caller::new(Some(&mut bytes), &mut data.host))
        }
        None => call(&mut Caller::new(None, &mut store.data_mut().host)),
    };
    outcome.map_err(trap)
}

/// `define_typed`, for the signatures refill-core lists.
macro_rules! define_typed {
    ($([$($param:ident: $ty:ident),*] -> [$($result:ident)?];)*) => {
        /// Defines `func` through `func_wrap` if its signature is one of the
        /// typed ones; `None` otherwise.
        fn define_typed(
            linker: &mut Linker<StoreData>,
            func: &HostFunc,
        ) -> Option<wasmtime::Result<()>> {
            let ty = func.ty();
            $(
                if ty.params() == [$(ValType::$ty),*] && ty.results() == [$(ValType::$result)?] {
                    let (module, name) = (func.module(), func.name());
                    let func = func.clone();
                    let defined = linker.func_wrap(
                        module,
                        name,
                        move |mut caller: wasmtime::Caller<'_, StoreData>,
                              $($param: refill_core::wasm_rust_type!($ty)),*|
                              -> wasmtime::Result<refill_core::wasm_result_type!($($result)?)> {
                            with_caller(&mut caller, |caller| {
                                func.call_typed(caller, &[$(WasmValue::into_val($param)),*])
                            })
                        },
                    );
                    return Some(defined.map(drop));
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
            let params: Option<Vec<ValType>> = func.params().map(|t| val_type(&t)).collect();
            let results: Option<Vec<ValType>> = func.results().map(|t| val_type(&t)).collect();
            match (params, results) {
                (Some(params), Some(results)) => ImportType::Func(FuncType::new(params, results)),
                _ => ImportType::Other(format!("function {func}")),
            }
        }
        ExternType::Memory(_) => ImportType::Other("memory".into()),
        ExternType::Table(_) => ImportType::Other("table".into()),
        ExternType::Global(_) => ImportType::Other("global".into()),
        ExternType::Tag(_) => ImportType::Other("tag".into()),
    }
}

fn val_type(ty: &wasmtime::ValType) -> Option<ValType> {
    Some(match ty {
        wasmtime::ValType::I32 => ValType::I32,
        wasmtime::ValType::I64 => ValType::I64,
        wasmtime::ValType::F32 => ValType::F32,
        wasmtime::ValType::F64 => ValType::F64,
        _ => return None,
    })
}

fn func_type(engine: &Engine, ty: &FuncType) -> wasmtime::FuncType {
    let convert = |t: &ValType| match t {
        ValType::I32 => wasmtime::ValType::I32,
        ValType::I64 => wasmtime::ValType::I64,
        ValType::F32 => wasmtime::ValType::F32,
        ValType::F64 => wasmtime::ValType::F64,
    };
    wasmtime::FuncType::new(
        engine,
        ty.params().iter().map(convert),
        ty.results().iter().map(convert),
    )
}

/// A wasmtime value as refill-core's; a reference or vector value (which
/// no host function's type admits) becomes an `i32` 0 that the type check
/// of `HostFunc::call` then refuses.
fn from_wasmtime(val: &wasmtime::Val) -> Val {
    match *val {
        wasmtime::Val::I32(v) => Val::I32(v),
        wasmtime::Val::I64(v) => Val::I64(v),
        wasmtime::Val::F32(bits) => Val::F32(bits),
        wasmtime::Val::F64(bits) => Val::F64(bits),
        _ => Val::I32(0),
    }
}

fn to_wasmtime(val: Val) -> wasmtime::Val {
    match val {
        Val::I32(v) => wasmtime::Val::I32(v),
        Val::I64(v) => wasmtime::Val::I64(v),
        Val::F32(bits) => wasmtime::Val::F32(bits),
        Val::F64(bits) => wasmtime::Val::F64(bits),
    }
}
