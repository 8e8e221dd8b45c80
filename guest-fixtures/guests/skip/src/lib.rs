//! Contract `skip`: pure transfer for benchmarks. Takes every chunk of one
//! argument with `next_chunk()` without touching its bytes and returns the
//! number of bytes streamed.

use refill_core::guest::StreamReader;

/// `skip(arg) -> length of the argument in bytes`, as i64.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn skip(arg: i64) -> i64 {
    // SAFETY: `arg` is the descriptor the host primed for this entry point's
    // only argument, allocated by `__frnt__initiate_buffer`; only this reader
    // reads it.
    let mut reader = unsafe { StreamReader::from_arg(arg) }.unwrap_or_else(|e| panic!("{e}"));
    let mut total = 0u64;
    while let Some(chunk) = reader.next_chunk().unwrap_or_else(|e| panic!("{e}")) {
        total += chunk.len() as u64;
    }
    total as i64
}
