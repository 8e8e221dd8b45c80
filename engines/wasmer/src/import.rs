//! Host functions as wasmer functions: types converted, the calling
//! instance's memory and host data lent to refill-core's `Caller`.

use refill_core::{Caller, FuncType, HostFunc, ImportType, Val, ValType, WasmValue};
use wasmer::{ExternType, Function, FunctionEnv, FunctionEnvMut, RuntimeError, Store, Type, Value};

use crate::error::trap;
use crate::memory::ViewMemory;
use crate::state::StoreData;

/// `func` as a wasmer function of one instance's store, with that
/// instance's environment: through wasmer's typed `new_typed_with_env` for
/// the signatures of `refill_core::for_each_typed_signature!` (the refill
/// import's among them: the hot path), through the dynamic `new_with_env`
/// (which allocates its results per call) for any other. The guest's
/// memory and host data are found through the calling instance's own
/// environment, never through guest values.
pub(crate) fn bind(store: &mut Store, env: &FunctionEnv<StoreData>, func: &HostFunc) -> Function {
    if let Some(bound) = bind_typed(store, env, func) {
        return bound;
    }
    let ty = function_type(func.ty());
    let func = func.clone();
    Function::new_with_env(
        store,
        env,
        ty,
        move |mut env: FunctionEnvMut<'_, StoreData>,
              params: &[Value]|
              -> Result<Vec<Value>, RuntimeError> {
            // wasmer's dynamic functions return their results as a `Vec`.
            let mut results = vec![Value::I32(0); func.ty().results().len()];
            let store_result = |i: usize, v: Val| {
                if let Some(slot) = results.get_mut(i) {
                    *slot = to_wasmer(v);
                }
            };
            let params = params.iter().map(from_wasmer);
            with_caller(&mut env, |caller| {
                func.call_with(caller, params, store_result)
            })?;
            Ok(results)
        },
    )
}

/// Runs `call` with the calling instance's memory (once known) and host
/// data lent to refill-core's `Caller`; an error becomes the trap.
fn with_caller<R>(
    env: &mut FunctionEnvMut<'_, StoreData>,
    call: impl FnOnce(&mut Caller<'_>) -> refill_core::Result<R>,
) -> Result<R, RuntimeError> {
    let (data, store) = env.data_and_store_mut();
    let outcome = match &data.memory {
        Some(memory) => {
            let mut view = ViewMemory::new(memory.view(&store));
            call(&mut Caller::new(Some(&mut view), &mut data.host))
        }
        None => call(&mut Caller::new(None, &mut data.host)),
    };
    outcome.map_err(trap)
}

/// `bind_typed`, for the signatures refill-core lists.
macro_rules! bind_typed {
    ($([$($param:ident: $ty:ident),*] -> [$($result:ident)?];)*) => {
        /// `func` through `new_typed_with_env` if its signature is one of
        /// the typed ones; `None` otherwise.
        fn bind_typed(
            store: &mut Store,
            env: &FunctionEnv<StoreData>,
            func: &HostFunc,
        ) -> Option<Function> {
            let ty = func.ty();
            $(
                if ty.params() == [$(ValType::$ty),*] && ty.results() == [$(ValType::$result)?] {
                    let func = func.clone();
                    return Some(Function::new_typed_with_env(
                        store,
                        env,
                        move |mut env: FunctionEnvMut<'_, StoreData>,
                              $($param: refill_core::wasm_rust_type!($ty)),*|
                              -> Result<refill_core::wasm_result_type!($($result)?), RuntimeError> {
                            with_caller(&mut env, |caller| {
                                func.call_typed(caller, &[$(WasmValue::into_val($param)),*])
                            })
                        },
                    ));
                }
            )*
            None
        }
    };
}

refill_core::for_each_typed_signature!(bind_typed);

/// What a module imports under one name, in refill-core's terms.
pub(crate) fn import_type(ty: &ExternType) -> ImportType {
    match ty {
        ExternType::Function(func) => {
            let params: Option<Vec<ValType>> = func.params().iter().map(|t| val_type(*t)).collect();
            let results: Option<Vec<ValType>> =
                func.results().iter().map(|t| val_type(*t)).collect();
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

fn val_type(ty: Type) -> Option<ValType> {
    Some(match ty {
        Type::I32 => ValType::I32,
        Type::I64 => ValType::I64,
        Type::F32 => ValType::F32,
        Type::F64 => ValType::F64,
        _ => return None,
    })
}

fn function_type(ty: &FuncType) -> wasmer::FunctionType {
    let convert = |t: &ValType| match t {
        ValType::I32 => Type::I32,
        ValType::I64 => Type::I64,
        ValType::F32 => Type::F32,
        ValType::F64 => Type::F64,
    };
    wasmer::FunctionType::new(
        ty.params().iter().map(convert).collect::<Vec<_>>(),
        ty.results().iter().map(convert).collect::<Vec<_>>(),
    )
}

/// A wasmer value as refill-core's; a vector or reference value (which no
/// host function's type admits) becomes an `i32` 0 that the type check of
/// `HostFunc::call` then refuses. Floats go by their bits, so NaN payloads
/// pass unchanged.
fn from_wasmer(val: &Value) -> Val {
    match *val {
        Value::I32(v) => Val::I32(v),
        Value::I64(v) => Val::I64(v),
        Value::F32(v) => Val::F32(v.to_bits()),
        Value::F64(v) => Val::F64(v.to_bits()),
        _ => Val::I32(0),
    }
}

fn to_wasmer(val: Val) -> Value {
    match val {
        Val::I32(v) => Value::I32(v),
        Val::I64(v) => Value::I64(v),
        Val::F32(bits) => Value::F32(f32::from_bits(bits)),
        Val::F64(bits) => Value::F64(f64::from_bits(bits)),
    }
}
