//! Contract `odd_reads`: reads one argument through the copying `read_into`
//! API with read sizes cycling 1, 3, 4093 and 65537 bytes, so reads straddle
//! chunk boundaries in every way; returns the `Digest64` of the argument
//! (the same as `digest` returns).

use refill_core::guest::{StreamError, StreamReader};
use refill_testkit::Digest64;

/// The read sizes, used in turn.
const SIZES: [usize; 4] = [1, 3, 4093, 65_537];

fn digest_arg(arg: i64) -> Result<u64, StreamError> {
    // SAFETY: `arg` is the descriptor the host primed for this entry point's
    // only argument, allocated by `__frnt__initiate_buffer`; only this reader
    // reads it.
    let mut reader = unsafe { StreamReader::from_arg(arg) }?;
    let mut digest = Digest64::new();
    // One buffer for every read, as large as the largest read.
    let mut buf = vec![0u8; SIZES[SIZES.len() - 1]];
    for size in SIZES.iter().cycle() {
        let n = reader.read_into(&mut buf[..*size])?;
        if n == 0 {
            break;
        }
        digest.update(&buf[..n]);
    }
    Ok(digest.finish())
}

/// `odd_reads(arg) -> Digest64 of the argument`, as i64.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn odd_reads(arg: i64) -> i64 {
    digest_arg(arg).unwrap_or_else(|e| panic!("{e}")) as i64
}
