//! Streaming cases: the digest guest around every chunk boundary, a state
//! in flash, a peripheral pulled through a closure, pure transfer, and
//! several arguments in one call.

use alloc::format;
use alloc::vec::Vec;

use refill::{
    BoxedSource, BytesSource, EngineConfig, Instance, InstanceConfig, InstanceExt, IntoBoxedSource,
    PullSource, StreamOptions,
};
use refill_testkit::{GeneratedSource, combine3, expected_fills, fill_generated, generated_digest};

use crate::outcome::{Checked, Runner};
use crate::{Guests, instantiate};

/// The chunk sizes every payload size is tried with: 256 B, 4 KiB, 64 KiB.
pub(crate) const CHUNK_SIZES: [u32; 3] = [256, 4 << 10, 64 << 10];

/// The largest payload: 1 MiB, generated chunk by chunk.
pub(crate) const MIB: u64 = 1 << 20;

/// The state the `stream/flash` case streams: on a device this `static`
/// lies in flash (`.rodata`), and `BytesSource::from_static` streams it
/// without copying it to RAM first.
pub static FLASH_STATE: [u8; 20_000] = flash_state();

/// [`FLASH_STATE`]'s bytes: a xorshift sequence, computed at compile time.
const fn flash_state() -> [u8; 20_000] {
    let mut bytes = [0u8; 20_000];
    let mut x: u32 = 0x2545_F491;
    let mut i = 0;
    while i < bytes.len() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes[i] = (x >> 24) as u8;
        i += 1;
    }
    bytes
}

/// The payload sizes tried at `chunk`: 0, 1, chunk-1, chunk, chunk+1,
/// 3 chunks and 1 MiB.
fn payload_sizes(chunk: u32) -> [u64; 7] {
    let c = u64::from(chunk);
    [0, 1, c - 1, c, c + 1, 3 * c, MIB]
}

/// What one call of a one-result guest left behind.
pub(crate) struct Streamed {
    pub(crate) result: u64,
    pub(crate) fills: u64,
    pub(crate) memory: u64,
}

/// Streams `sources` into a fresh instance of `wasm` set up by `config` on
/// an engine built for `engine`, and calls `export`.
pub(crate) fn stream_with(
    wasm: &[u8],
    export: &str,
    sources: Vec<BoxedSource>,
    config: &InstanceConfig,
    engine: &EngineConfig,
) -> refill::Result<Streamed> {
    let mut instance = instantiate(wasm, config, engine)?;
    let result = instance.call_with_streams(export, sources)? as u64;
    Ok(Streamed {
        result,
        fills: instance.stats().fills,
        memory: instance.memory_size(),
    })
}

/// Streams `sources` into a fresh instance of `wasm` with chunks of
/// `chunk` bytes and calls `export`.
fn stream(
    wasm: &[u8],
    export: &str,
    sources: Vec<BoxedSource>,
    chunk: u32,
) -> refill::Result<Streamed> {
    let config = InstanceConfig::new().with_chunk_size(chunk);
    stream_with(wasm, export, sources, &config, &EngineConfig::new())
}

/// A digest case: `digest=…, fills=…, memory=…`, passing when the digest
/// and the refill count are the expected ones.
pub(crate) fn digest_checked(run: refill::Result<Streamed>, want: u64, fills: u64) -> Checked {
    let expected = format!("digest={want:#018x}, fills={fills}");
    match run {
        Ok(s) => Checked {
            result: format!(
                "digest={:#018x}, fills={}, memory={}",
                s.result, s.fills, s.memory
            ),
            passed: s.result == want && s.fills == fills,
            expected,
        },
        Err(e) => Checked::unexpected(&e, expected),
    }
}

pub(crate) fn run(guests: &Guests<'_>, runner: &mut Runner<'_>) {
    for chunk in CHUNK_SIZES {
        for len in payload_sizes(chunk) {
            let seed = u64::from(chunk) ^ len;
            runner.case(format!("stream/chunk={chunk}/len={len}"), || {
                let source = GeneratedSource::new(seed, len).boxed();
                let run = stream(guests.digest, "digest", alloc::vec![source], chunk);
                digest_checked(run, generated_digest(seed, len), expected_fills(len, chunk))
            });
        }
    }

    runner.case(format!("stream/flash/chunk={}", 4 << 10), || {
        let source = BytesSource::from_static(&FLASH_STATE).boxed();
        let run = stream(guests.digest, "digest", alloc::vec![source], 4 << 10);
        let len = FLASH_STATE.len() as u64;
        digest_checked(
            run,
            refill_testkit::digest(&FLASH_STATE),
            expected_fills(len, 4 << 10),
        )
    });

    runner.case(format!("stream/pull/chunk={}", 256), || {
        let (seed, len) = (7, 100_003);
        let run = stream(
            guests.digest,
            "digest",
            alloc::vec![peripheral(seed, len)],
            256,
        );
        digest_checked(run, generated_digest(seed, len), expected_fills(len, 256))
    });

    runner.case(format!("stream/skip/chunk={}/len={MIB}", 4 << 10), || {
        let source = GeneratedSource::new(8, MIB).boxed();
        let fills = expected_fills(MIB, 4 << 10);
        let expected = format!("bytes={MIB}, fills={fills}");
        match stream(guests.skip, "skip", alloc::vec![source], 4 << 10) {
            Ok(s) => Checked {
                result: format!("bytes={}, fills={}, memory={}", s.result, s.fills, s.memory),
                passed: s.result == MIB && s.fills == fills,
                expected,
            },
            Err(e) => Checked::unexpected(&e, expected),
        }
    });

    let lens = [70_000, 5, 100_003];
    runner.case(format!("arguments/interleave3/chunk={}", 4 << 10), || {
        let sources = (0..3)
            .map(|k| GeneratedSource::new(10 + k, lens[k as usize]).boxed())
            .collect();
        let run = stream(guests.interleave, "interleave3", sources, 4 << 10);
        let want = combine3(
            generated_digest(10, lens[0]),
            generated_digest(11, lens[1]),
            generated_digest(12, lens[2]),
        );
        let fills = lens.iter().map(|&len| expected_fills(len, 4 << 10)).sum();
        digest_checked(run, want, fills)
    });

    runner.case(
        format!("arguments/interleave3/chunks={:?}", CHUNK_SIZES),
        || interleave_mixed_chunks(guests),
    );
}

/// Three arguments with a chunk size each, through `open_stream` and `call`.
fn interleave_mixed_chunks(guests: &Guests<'_>) -> Checked {
    let lens = [3_000, 200_001, 70_000];
    let want = combine3(
        generated_digest(20, lens[0]),
        generated_digest(21, lens[1]),
        generated_digest(22, lens[2]),
    );
    let fills = (0..3)
        .map(|k| expected_fills(lens[k], CHUNK_SIZES[k]))
        .sum();
    let run = (|| {
        let config = InstanceConfig::new();
        let mut instance = instantiate(guests.interleave, &config, &EngineConfig::new())?;
        let mut args = Vec::new();
        for k in 0..3 {
            let source = GeneratedSource::new(20 + k as u64, lens[k]).boxed();
            let options = StreamOptions::new().with_chunk_size(CHUNK_SIZES[k]);
            args.push(instance.open_stream(source, options)?);
        }
        let result = instance.call("interleave3", &args)? as u64;
        Ok(Streamed {
            result,
            fills: instance.stats().fills,
            memory: instance.memory_size(),
        })
    })();
    digest_checked(run, want, fills)
}

/// A source pulled from a closure, as from a peripheral that hands out at
/// most 61 bytes at a time: the generated payload `(seed, len)`.
fn peripheral(seed: u64, len: u64) -> BoxedSource {
    let mut offset = 0u64;
    PullSource::new(len, move |dst: &mut [u8]| {
        let n = dst.len().min(61).min((len - offset) as usize);
        fill_generated(seed, offset, &mut dst[..n]);
        offset += n as u64;
        Ok(n)
    })
    .boxed()
}
