//! Async calls under wasmi (feature `async`): resumable calls. A stream
//! import whose stream lacks bytes returns a resumable host error instead
//! of waiting; the call's future then awaits the stream's wait, runs the
//! import itself and resumes the guest with its result.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use refill_core::asynchronous::{AsyncBindings, BoxFuture};
use refill_core::{Caller, HostFunc, Result, Val as CoreVal};
use wasmi::{AsContextMut, Func, ResumableCall, Store, Val};

use crate::import::with_caller;
use crate::instance::WasmiInstance;
use crate::state::{Slices, StoreData};

/// The host error a stream import returns to suspend the guest: which
/// import, and its arguments, to run once the wait is over.
#[derive(Debug)]
struct Suspended {
    func: Arc<HostFunc>,
    id: i64,
    buf_ptr: i64,
}

impl fmt::Display for Suspended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} suspended on the buffer at {:#x} for an async stream",
            self.func.name(),
            self.buf_ptr
        )
    }
}

impl wasmi::errors::HostError for Suspended {}

/// Defines a stream import (`(id: i64, buf_ptr: i64) -> i32`) that
/// suspends the guest when its stream must wait, and otherwise runs `func`.
pub(crate) fn define_suspending(store: &mut Store<StoreData>, func: Arc<HostFunc>) -> Func {
    Func::wrap(
        store,
        move |mut caller: wasmi::Caller<'_, StoreData>,
              id: i64,
              buf_ptr: i64|
              -> core::result::Result<i32, wasmi::Error> {
            if caller.data().host.wait_before(buf_ptr).is_some() {
                return Err(wasmi::Error::host(Suspended {
                    func: Arc::clone(&func),
                    id,
                    buf_ptr,
                }));
            }
            with_caller(&mut caller, |caller| run_import(&func, caller, id, buf_ptr))
        },
    )
}

fn run_import(func: &HostFunc, caller: &mut Caller<'_>, id: i64, buf_ptr: i64) -> Result<i32> {
    func.call_typed(caller, &[CoreVal::I64(id), CoreVal::I64(buf_ptr)])
}

/// Calls `func` resumably: each suspension awaited and resumed, fuel and
/// the deadline as [`crate::state::call`] keeps them.
async fn call(
    store: &mut Store<StoreData>,
    func: &Func,
    inputs: &[Val],
    outputs: &mut [Val],
) -> Result<()> {
    let mut slices = Slices::start(store)?;
    let mut call = func
        .call_resumable(store.as_context_mut(), inputs, outputs)
        .map_err(|e| store.data_mut().call_error(e));
    loop {
        match call? {
            ResumableCall::Finished => return Ok(()),
            ResumableCall::HostTrap(trap) => {
                let Some(suspended) = trap.host_error().downcast_ref::<Suspended>() else {
                    return Err(store.data_mut().call_error(trap.into_host_error()));
                };
                let (func, id, buf_ptr) =
                    (Arc::clone(&suspended.func), suspended.id, suspended.buf_ptr);
                if let Some(wait) = store.data().host.wait_before(buf_ptr) {
                    wait.run().await?;
                }
                let result =
                    with_store_caller(store, |caller| run_import(&func, caller, id, buf_ptr))?;
                call = trap
                    .resume(store.as_context_mut(), &[Val::I32(result)], outputs)
                    .map_err(|e| store.data_mut().call_error(e));
            }
            ResumableCall::OutOfFuel(out) => {
                let Some(slices) = slices.as_mut() else {
                    return Err(store.data().out_of_fuel());
                };
                slices.next(store, out.required_fuel())?;
                call = out
                    .resume(store.as_context_mut(), outputs)
                    .map_err(|e| store.data_mut().call_error(e));
            }
        }
    }
}

/// Lends the store's memory and host data to refill-core's `Caller`.
fn with_store_caller<R>(
    store: &mut Store<StoreData>,
    call: impl FnOnce(&mut Caller<'_>) -> Result<R>,
) -> Result<R> {
    match store.data().memory {
        Some(memory) => {
            let (mut bytes, data) = memory.data_and_store_mut(&mut *store);
            call(&mut Caller::new(Some(&mut bytes), &mut data.host))
        }
        None => call(&mut Caller::new(None, &mut store.data_mut().host)),
    }
}

impl AsyncBindings for WasmiInstance {
    fn invoke_async<'a>(
        &'a mut self,
        export: &'a str,
        args: &'a [i64],
    ) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            let func = self.entry(export, args.len())?;
            let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
            let mut output = [Val::I64(0)];
            call(self.store_mut(), &func, &inputs, &mut output).await?;
            WasmiInstance::result(export, output)
        })
    }
}
