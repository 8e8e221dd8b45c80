//! Contract `collect`: the freenet pattern. Copies the whole argument into a
//! `Vec` with `read_to_end_into` (guest memory O(payload)) and returns
//! `refill_testkit::digest` of it.

use refill_core::guest::StreamReader;

/// `collect(arg) -> digest of the argument collected whole`, as i64.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn collect(arg: i64) -> i64 {
    // SAFETY: `arg` is the descriptor the host primed for this entry point's
    // only argument, allocated by `__frnt__initiate_buffer`; only this reader
    // reads it.
    let reader = unsafe { StreamReader::from_arg(arg) };
    let mut state = Vec::new();
    if let Err(e) = reader.and_then(|mut r| r.read_to_end_into(&mut state)) {
        panic!("{e}");
    }
    refill_testkit::digest(&state) as i64
}
