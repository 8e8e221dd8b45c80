//! The job the bare baseline and its refill twin are compared with: the
//! skip guest (pure transfer: it takes every chunk without touching its
//! bytes) streams [`PAYLOAD`], a state in flash, at two payload sizes and
//! two chunk sizes, each run on a fresh engine, module and instance.
//! Instructions per streamed byte come from the difference between the two
//! sizes, so that compiling, instantiating and priming cancel out.

use alloc::string::String;

use crate::{Board, heap, println};

/// Bytes of [`PAYLOAD`].
pub const PAYLOAD_LEN: usize = 1 << 20;

/// The state both firmwares stream, in flash (`.rodata`).
pub static PAYLOAD: [u8; PAYLOAD_LEN] = [0x5A; PAYLOAD_LEN];

/// The two payload sizes whose difference gives the cost per byte.
pub const SIZES: [usize; 2] = [256 << 10, PAYLOAD_LEN];

/// The chunk sizes tried.
pub const CHUNKS: [u32; 3] = [4 << 10, 16 << 10, 64 << 10];

/// What one run of the job produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Streamed {
    /// The guest's result: the bytes it received.
    pub returned: u64,
    /// Refills served.
    pub fills: u64,
}

/// Runs `job(payload, chunk)` for every chunk and size, printing one line
/// per run (`run <binding> chunk=… len=…: returned=… fills=…
/// instructions=… heap=…`) and the cost per byte at each chunk
/// (`per-byte <binding> chunk=…: <x.yyy> instructions`). Returns whether
/// every run delivered every byte.
pub fn measure(
    binding: &str,
    board: &Board,
    mut job: impl FnMut(&'static [u8], u32) -> Result<Streamed, String>,
) -> bool {
    let mut ok = true;
    for chunk in CHUNKS {
        let mut instructions = [0u64; 2];
        for (k, len) in SIZES.into_iter().enumerate() {
            heap::take_peak();
            let before = board.clock.instructions();
            let run = job(&PAYLOAD[..len], chunk);
            instructions[k] = board.clock.instructions() - before;
            let heap = heap::take_peak();
            match run {
                Ok(s) => {
                    ok &= s.returned == len as u64;
                    println!(
                        "run {binding} chunk={chunk} len={len}: returned={} fills={} \
                         instructions={} heap={heap}",
                        s.returned, s.fills, instructions[k]
                    );
                }
                Err(e) => {
                    ok = false;
                    println!("run {binding} chunk={chunk} len={len}: error {e}");
                }
            }
        }
        let milli =
            (instructions[1].saturating_sub(instructions[0])) * 1000 / (SIZES[1] - SIZES[0]) as u64;
        println!(
            "per-byte {binding} chunk={chunk}: {}.{:03} instructions",
            milli / 1000,
            milli % 1000
        );
    }
    ok
}
