//! Host functions as wasmer functions: types converted, the calling
//! instance's memory and host data lent to refill-core's `Caller`.

use refill_core::{Caller, FuncType, HostFunc, ImportType, Val, ValType};
use wasmer::{ExternType, Function, FunctionEnv, FunctionEnvMut, RuntimeError, Store, Type, Value};

use crate::error::trap;
use crate::memory::ViewMemory;
use crate::state::StoreData;

/// `func` as a wasmer function of one instance's store, with that
/// instance's environment. The guest's memory and host data are found
/// through the calling instance's own environment, never through guest
/// values.
pub(crate) fn bind(store: &mut Store, env: &FunctionEnv<StoreData>, func: &HostFunc) -> Function {
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
            let (data, store) = env.data_and_store_mut();
            let outcome = match &data.memory {
                Some(memory) => {
                    let mut view = ViewMemory::new(memory.view(&store));
                    func.call(
                        &mut Caller::new(Some(&mut view), &mut data.host),
                        params,
                        store_result,
                    )
                }
                None => func.call(&mut Caller::new(None, &mut data.host), params, store_result),
            };
            outcome.map_err(trap)?;
            Ok(results)
        },
    )
}

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
