//! The binding of `freenet_contract_io.__frnt__fill_buffer` for wasmer.

use refill_core::abi::{FILL_BUFFER, IMPORT_MODULE};
use wasmer::{Function, FunctionEnv, FunctionEnvMut, Imports, RuntimeError, Store};

use crate::engine::HostState;
use crate::error::RefillTrap;
use crate::memory::with_memory;

/// Defines the import in `imports`: the guest's memory and streams are found
/// through the calling instance's own function environment, never through
/// guest values.
pub(crate) fn define_fill_buffer(
    store: &mut Store,
    env: &FunctionEnv<HostState>,
    imports: &mut Imports,
) {
    let fill_buffer = Function::new_typed_with_env(
        store,
        env,
        |env: FunctionEnvMut<'_, HostState>, id: i64, buf_ptr: i64| -> Result<u32, RuntimeError> {
            let Some(memory) = env.data().memory.clone() else {
                return Err(RuntimeError::user(Box::new(RefillTrap(
                    refill_core::Error::missing_export(refill_core::abi::MEMORY),
                ))));
            };
            with_memory(&memory, env, |bytes, streams| {
                streams.fill(bytes, id, buf_ptr)
            })
            .map_err(|e| RuntimeError::user(Box::new(RefillTrap(e))))
        },
    );
    imports.define(IMPORT_MODULE, FILL_BUFFER, fill_buffer);
}
