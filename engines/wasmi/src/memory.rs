//! wasmi's linear memory as refill-core's `GuestMemory`.
//!
//! wasmi lends the memory as a plain `&mut [u8]`, which refill-core already
//! treats as guest memory with checked access: this module only names the
//! way to borrow it together with the host state.

use refill_core::HostStreams;
use wasmi::{AsContextMut, Memory};

use crate::engine::HostState;

/// Borrows the guest's memory bytes and the instance's streams at once.
pub(crate) fn with_memory<R>(
    memory: Memory,
    mut store: impl AsContextMut<Data = HostState>,
    f: impl FnOnce(&mut [u8], &mut HostStreams) -> R,
) -> R {
    let (bytes, state) = memory.data_and_store_mut(store.as_context_mut());
    f(bytes, &mut state.streams)
}
