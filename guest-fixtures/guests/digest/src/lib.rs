//! Contract `digest`: streams one argument through the zero-copy
//! `next_chunk()` API and returns its `refill_testkit::Digest64`
//! (`digest`), or the address of a `[digest: u64 LE][len: u64 LE]` record
//! (`digest_record`). `digest_whole` digests an argument the host placed
//! whole, one-shot: the whole-copy baseline of the benchmarks.

use core::sync::atomic::{AtomicU64, Ordering};

use refill_core::guest::{StreamError, StreamReader, free_buffer, one_shot_bytes};
use refill_testkit::Digest64;

/// The record `digest_record` returns the address of. `AtomicU64` has the
/// in-memory representation of `u64` and wasm32 is little-endian, so the
/// host reads `[digest: u64 LE][len: u64 LE]` here without any unsafe code.
static RECORD: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// A stream error becomes a trap carrying its message.
fn fail(e: StreamError) -> ! {
    panic!("{e}")
}

/// Digests the argument at descriptor `arg` chunk by chunk, without copying:
/// returns `(digest, bytes read)`.
fn digest_arg(arg: i64) -> Result<(u64, u64), StreamError> {
    // SAFETY: `arg` is the descriptor the host primed for this entry point's
    // only argument, allocated by `__frnt__initiate_buffer`; only this reader
    // reads it.
    let mut reader = unsafe { StreamReader::from_arg(arg) }?;
    let mut digest = Digest64::new();
    let mut len = 0u64;
    while let Some(chunk) = reader.next_chunk()? {
        digest.update(chunk);
        len += chunk.len() as u64;
    }
    Ok((digest.finish(), len))
}

/// `digest(arg) -> Digest64 of the argument`, as i64.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn digest(arg: i64) -> i64 {
    digest_arg(arg).unwrap_or_else(|e| fail(e)).0 as i64
}

/// `digest_record(arg) -> address` of the 16-byte record
/// `[digest: u64 LE][len: u64 LE]`, overwritten by the next call.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn digest_record(arg: i64) -> i64 {
    let (digest, len) = digest_arg(arg).unwrap_or_else(|e| fail(e));
    RECORD[0].store(digest, Ordering::Relaxed);
    RECORD[1].store(len, Ordering::Relaxed);
    RECORD.as_ptr().addr() as i64
}

/// `digest_whole(arg) -> Digest64` of an argument the host wrote whole into
/// its buffer (`StreamOptions::whole()`, no header, no refills); the buffer
/// is freed afterwards, so repeated calls reuse the memory.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn digest_whole(arg: i64) -> i64 {
    // SAFETY: `arg` is the descriptor of a buffer `__frnt__initiate_buffer`
    // allocated and the host filled whole; nothing else uses it.
    let bytes = unsafe { one_shot_bytes(arg) }
        .unwrap_or_else(|| panic!("the write cursor exceeds the buffer's capacity"));
    let digest = refill_testkit::digest(bytes);
    // SAFETY: the buffer is ours, and `bytes` is not used past this point.
    unsafe { free_buffer(arg) };
    digest as i64
}

/// `allocate(capacity) -> descriptor address`: what
/// `__frnt__initiate_buffer(capacity)` does, callable as an entry point
/// (`i64` in and out) so the host can ask for any capacity, `u32::MAX`
/// included: the buffer's size is computed with checked arithmetic, so a
/// capacity that does not fit in wasm32's address space traps.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn allocate(capacity: i64) -> i64 {
    refill_core::guest::allocate_buffer(capacity as u32)
}
