//! The binding of `freenet_contract_io.__frnt__fill_buffer` for wasmi.

use refill_core::abi::{FILL_BUFFER, IMPORT_MODULE};
use wasmi::{Caller, Linker};

use crate::engine::HostState;
use crate::error::RefillTrap;
use crate::memory::with_memory;

/// Defines the import in `linker`: the guest's memory and streams are found
/// through the calling instance's own store, never through guest values.
pub(crate) fn define_fill_buffer(linker: &mut Linker<HostState>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        IMPORT_MODULE,
        FILL_BUFFER,
        |mut caller: Caller<'_, HostState>, id: i64, buf_ptr: i64| -> Result<u32, wasmi::Error> {
            let Some(memory) = caller.data().memory else {
                return Err(wasmi::Error::host(RefillTrap(
                    refill_core::Error::missing_export(refill_core::abi::MEMORY),
                )));
            };
            with_memory(memory, &mut caller, |bytes, streams| {
                streams.fill(bytes, id, buf_ptr)
            })
            .map_err(|e| wasmi::Error::host(RefillTrap(e)))
        },
    )?;
    Ok(())
}
