//! `freenet_delegate_ctx`: the delegate's context, bytes it keeps across
//! `process` calls of one instance.
//!
//! | import | type | returns |
//! | --- | --- | --- |
//! | `__frnt__delegate__ctx_len` | `() -> i32` | the context's length |
//! | `__frnt__delegate__ctx_read` | `(ptr: i64, len: i32) -> i32` | copies `min(context, len)` bytes to `ptr`, returns the count |
//! | `__frnt__delegate__ctx_write` | `(ptr: i64, len: i32) -> i32` | replaces the context with `len` bytes at `ptr` (`len = 0` clears it), returns 0 |
//!
//! Codes: -1 outside `process`, -4 a negative length, -5 a context longer
//! than `HostLimits::max_context`, -9 a range outside guest memory.

use refill_core::{Caller, HostFunctions, Result, StateSlot};

use super::codes::{CONTEXT_TOO_LARGE, INVALID_PARAM, MEMORY_BOUNDS, NOT_IN_PROCESS, SUCCESS};
use super::env::InstanceEnv;
use super::{FreenetHost, code};

/// The import module.
const MODULE: &str = "freenet_delegate_ctx";
/// `() -> i32`.
const CTX_LEN: &str = "__frnt__delegate__ctx_len";
/// `(ptr: i64, len: i32) -> i32`.
const CTX_READ: &str = "__frnt__delegate__ctx_read";
/// `(ptr: i64, len: i32) -> i32`.
const CTX_WRITE: &str = "__frnt__delegate__ctx_write";

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost, env: StateSlot<InstanceEnv>) {
    set.func(
        MODULE,
        CTX_LEN,
        move |caller: &mut Caller<'_>| -> Result<i32> {
            let state = caller.state(env)?;
            if state.call.is_none() {
                return Ok(NOT_IN_PROCESS);
            }
            Ok(code(state.context.len()))
        },
    );
    set.func(
        MODULE,
        CTX_READ,
        move |caller: &mut Caller<'_>, ptr: i64, len: i32| -> Result<i32> {
            let state = caller.state(env)?;
            if state.call.is_none() {
                return Ok(NOT_IN_PROCESS);
            }
            let Ok(len) = usize::try_from(len) else {
                return Ok(INVALID_PARAM);
            };
            // Taken out for the write into guest memory, put back after.
            let context = std::mem::take(&mut state.context);
            let n = context.len().min(len);
            let written = caller.write(ptr, &context[..n]);
            caller.state(env)?.context = context;
            Ok(match written {
                Ok(()) => code(n),
                Err(_) => MEMORY_BOUNDS,
            })
        },
    );
    let max_context = host.limits.max_context;
    set.func(
        MODULE,
        CTX_WRITE,
        move |caller: &mut Caller<'_>, ptr: i64, len: i32| -> Result<i32> {
            if caller.state(env)?.call.is_none() {
                return Ok(NOT_IN_PROCESS);
            }
            let Ok(len) = u32::try_from(len) else {
                return Ok(INVALID_PARAM);
            };
            if caller.range(ptr, i64::from(len)).is_err() {
                return Ok(MEMORY_BOUNDS);
            }
            if len > max_context {
                return Ok(CONTEXT_TOO_LARGE);
            }
            let bytes = caller.read_capped(ptr, i64::from(len), max_context)?;
            caller.state(env)?.context = bytes;
            Ok(SUCCESS)
        },
    );
}
