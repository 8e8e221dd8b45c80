//! The exports and the import of the ABI, defined when built for `wasm32`.

use core::sync::atomic::{AtomicI64, Ordering};

use super::reader::Refill;
use super::writer::Drain;

/// The id the host gave through `__frnt_set_id`; -1 until then.
static INSTANCE_ID: AtomicI64 = AtomicI64::new(-1);

/// The id the host gave this instance through `__frnt_set_id` (-1 if none).
pub fn instance_id() -> i64 {
    INSTANCE_ID.load(Ordering::Relaxed)
}

#[link(wasm_import_module = "freenet_contract_io")]
unsafe extern "C" {
    fn __frnt__fill_buffer(id: i64, buf_ptr: i64) -> u32;
}

// Imported only by a module that writes an output stream.
#[link(wasm_import_module = "refill_io")]
unsafe extern "C" {
    fn __refill__drain_buffer(id: i64, buf_ptr: i64) -> u32;
}

/// `__frnt_set_id(id)`: remembers the instance id for refill calls.
// SAFETY: the ABI reserves this name; nothing else in a contract defines it.
#[unsafe(no_mangle)]
extern "C" fn __frnt_set_id(id: i64) {
    INSTANCE_ID.store(id, Ordering::Relaxed);
}

/// `__frnt__initiate_buffer(capacity) -> descriptor address`.
// SAFETY: the ABI reserves this name; nothing else in a contract defines it.
#[unsafe(no_mangle)]
extern "C" fn __frnt__initiate_buffer(capacity: u32) -> i64 {
    super::allocate_buffer(capacity)
}

/// Refills through the host import `freenet_contract_io.__frnt__fill_buffer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostRefill;

impl Refill for HostRefill {
    fn refill(&mut self, descriptor: i64) -> u32 {
        // SAFETY: a plain host call with two integers; the host checks every
        // address it derives from them.
        unsafe { __frnt__fill_buffer(instance_id(), descriptor) }
    }
}

impl super::StreamReader<HostRefill> {
    /// The reader of an entry point's argument: `arg` is the descriptor
    /// address the host passed.
    ///
    /// # Safety
    ///
    /// `arg` must be a descriptor the host primed, allocated by this
    /// module's `__frnt__initiate_buffer`, and not read by another reader.
    pub unsafe fn from_arg(arg: i64) -> Result<Self, super::StreamError> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::new(arg, HostRefill) }
    }
}

/// Drains through the host import `refill_io.__refill__drain_buffer`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostDrain;

impl Drain for HostDrain {
    fn drain(&mut self, descriptor: i64) -> u32 {
        // SAFETY: a plain host call with two integers; the host checks every
        // address it derives from them.
        unsafe { __refill__drain_buffer(instance_id(), descriptor) }
    }
}

impl super::StreamWriter<HostDrain> {
    /// The writer of an entry point's output argument: `arg` is the
    /// descriptor address the host passed.
    ///
    /// # Safety
    ///
    /// `arg` must be a descriptor the host opened as an output stream,
    /// allocated by this module's `__frnt__initiate_buffer`, and not written
    /// by another writer.
    pub unsafe fn from_arg(arg: i64) -> Result<Self, super::StreamError> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::new(arg, HostDrain) }
    }
}
