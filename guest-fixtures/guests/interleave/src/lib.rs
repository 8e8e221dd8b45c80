//! Contract `interleave`: three streams open at once, read round-robin with
//! read sizes 17, 4096 and 333 bytes until all three are exhausted; returns
//! `refill_testkit::combine3` of the three arguments' `Digest64`s.

use refill_core::guest::{HostRefill, StreamError, StreamReader};
use refill_testkit::{Digest64, combine3};

/// The read size for each argument, in argument order.
const SIZES: [usize; 3] = [17, 4096, 333];

/// One argument being read.
struct Arg {
    reader: StreamReader<HostRefill>,
    size: usize,
    digest: Digest64,
    done: bool,
}

fn digest_args(args: [i64; 3]) -> Result<u64, StreamError> {
    let mut open = Vec::with_capacity(args.len());
    for (arg, size) in args.into_iter().zip(SIZES) {
        open.push(Arg {
            // SAFETY: each `arg` is a distinct descriptor the host primed for
            // this entry point, allocated by `__frnt__initiate_buffer`; only
            // this reader reads it.
            reader: unsafe { StreamReader::from_arg(arg) }?,
            size,
            digest: Digest64::new(),
            done: false,
        });
    }
    let mut buf = vec![0u8; SIZES.into_iter().max().unwrap_or(0)];
    while open.iter().any(|a| !a.done) {
        for a in open.iter_mut().filter(|a| !a.done) {
            let n = a.reader.read_into(&mut buf[..a.size])?;
            a.done = n == 0;
            a.digest.update(&buf[..n]);
        }
    }
    let [a, b, c] = [0, 1, 2].map(|i| open[i].digest.finish());
    Ok(combine3(a, b, c))
}

/// `interleave3(a, b, c) -> combine3(digest a, digest b, digest c)`, as i64.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn interleave3(a: i64, b: i64, c: i64) -> i64 {
    digest_args([a, b, c]).unwrap_or_else(|e| panic!("{e}")) as i64
}
