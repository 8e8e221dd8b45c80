//! The native baseline: the guest's copy-and-digest loop in plain Rust.

use std::time::{Duration, Instant};

use refill_testkit::Digest64;

/// Copies `payload` chunk by chunk into one reused buffer of `chunk` bytes
/// and digests each chunk there, as a streaming guest does. Returns the
/// digest and the time taken.
pub fn copy_and_digest(payload: &[u8], chunk: u32) -> (u64, Duration) {
    let mut buffer = vec![0u8; chunk as usize];
    let started = Instant::now();
    let mut digest = Digest64::new();
    for piece in payload.chunks(chunk as usize) {
        let dst = &mut buffer[..piece.len()];
        dst.copy_from_slice(piece);
        digest.update(std::hint::black_box(dst));
    }
    let value = digest.finish();
    (value, started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_the_testkit_digest_for_any_chunk() {
        let payload = refill_testkit::generated(3, 100_003);
        for chunk in [8, 4096, 65_536, 1 << 20] {
            assert_eq!(
                copy_and_digest(&payload, chunk).0,
                refill_testkit::digest(&payload)
            );
        }
    }
}
