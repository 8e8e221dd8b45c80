//! Async calls under wasmtime (feature `async`): the stream imports of a
//! module linked for async calls are wasmtime async host functions, which
//! await their stream's wait; calls go through `call_async`, on a fiber.

use refill_core::asynchronous::{AsyncBindings, BoxFuture};
use refill_core::{HostFunc, Result, Val as CoreVal};
use wasmtime::{Linker, Val};

use crate::error::{from_call, trap};
use crate::import::with_caller;
use crate::instance::WasmtimeInstance;
use crate::state::{StoreData, prepare_call};

/// Defines a stream import (`(id: i64, buf_ptr: i64) -> i32`) as an async
/// host function: it awaits its stream's wait, then runs `func`.
pub(crate) fn define_waiting(
    linker: &mut Linker<StoreData>,
    func: &HostFunc,
) -> wasmtime::Result<()> {
    let (module, name) = (func.module().to_owned(), func.name().to_owned());
    let func = func.clone();
    linker.func_wrap_async(
        &module,
        &name,
        move |mut caller: wasmtime::Caller<'_, StoreData>, (id, buf_ptr): (i64, i64)| {
            let func = func.clone();
            Box::new(async move {
                if let Some(wait) = caller.data().host.wait_before(buf_ptr) {
                    wait.run().await.map_err(trap)?;
                }
                with_caller(&mut caller, |caller| {
                    func.call_typed::<i32>(caller, &[CoreVal::I64(id), CoreVal::I64(buf_ptr)])
                })
            })
        },
    )?;
    Ok(())
}

impl AsyncBindings for WasmtimeInstance {
    fn invoke_async<'a>(
        &'a mut self,
        export: &'a str,
        args: &'a [i64],
    ) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let func = self.entry(export, args.len())?;
            let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
            let mut output = [Val::I64(0)];
            let (store, limits) = self.store_and_limits();
            prepare_call(store, limits)?;
            func.call_async(&mut *store, &inputs, &mut output)
                .await
                .map_err(from_call)?;
            WasmtimeInstance::result(export, output)
        })
    }
}
