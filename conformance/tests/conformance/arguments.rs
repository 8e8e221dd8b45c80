//! Several streamed arguments in one call, and several calls on one instance.

use refill::{EngineKind, ErrorKind, Instance, InstanceExt, Result, StreamOptions};
use refill_conformance::{expected_fills, generated, generated_digest, instantiate};
use refill_testkit::combine3;
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

/// Three arguments read interleaved each arrive whole and in order; the
/// refills are the sum of each argument's.
#[apply(engines)]
fn three_interleaved_arguments(
    #[case] engine: EngineKind,
    #[values(4 << 10, 64 << 10)] chunk: u32,
    #[values([0, 1, 200_000], [70_000, 5, 3 << 20], [65_532, 65_533, 131_072])] lens: [u64; 3],
) -> Result<()> {
    let fixture = &refill_fixtures::INTERLEAVE;
    let mut instance = instantiate(engine, fixture.wasm, chunk)?;
    let sources = lens
        .iter()
        .enumerate()
        .map(|(k, &len)| generated(k as u64, len));
    let result = instance.call_with_streams(fixture.export, sources)?;
    let want = combine3(
        generated_digest(0, lens[0]),
        generated_digest(1, lens[1]),
        generated_digest(2, lens[2]),
    );
    assert_eq!(result as u64, want, "{engine}");
    let fills: u64 = lens.iter().map(|&len| expected_fills(len, chunk)).sum();
    assert_eq!(instance.stats().fills, fills);
    assert_eq!(instance.stats().streams, 3);
    Ok(())
}

/// Each stream can have a chunk size of its own: three arguments of one
/// call in 4 KiB, 64 KiB and 256 KiB chunks give the same result, each with
/// the refills its own chunk size implies; a chunk size outside the limits
/// is refused before anything is allocated.
#[apply(engines)]
fn streams_of_one_call_can_have_their_own_chunk_sizes(#[case] engine: EngineKind) -> Result<()> {
    let fixture = &refill_fixtures::INTERLEAVE;
    let mut instance = instantiate(engine, fixture.wasm, 64 << 10)?;
    let lens = [300_000u64, 200_001, 1 << 20];
    let chunks = [4u32 << 10, 64 << 10, 256 << 10];
    let mut args = Vec::new();
    for (k, (&len, &chunk)) in lens.iter().zip(&chunks).enumerate() {
        let options = StreamOptions::new().with_chunk_size(chunk);
        args.push(instance.open_stream(generated(k as u64, len), options)?);
    }
    let result = instance.call(fixture.export, &args)?;
    let want = combine3(
        generated_digest(0, lens[0]),
        generated_digest(1, lens[1]),
        generated_digest(2, lens[2]),
    );
    assert_eq!(result as u64, want, "{engine}");
    let fills: u64 = lens
        .iter()
        .zip(&chunks)
        .map(|(&len, &chunk)| expected_fills(len, chunk))
        .sum();
    assert_eq!(instance.stats().fills, fills, "{engine}");
    let memory = instance.memory_size();
    let refused = instance.open_stream(generated(0, 10), StreamOptions::new().with_chunk_size(4));
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        ErrorKind::InvalidChunkSize,
        "{engine}"
    );
    assert_eq!(instance.memory_size(), memory);
    Ok(())
}

/// Streams do not outlive their call: one instance serves many calls, each
/// with its own payload, and its memory does not grow from call to call.
#[apply(engines)]
fn many_calls_on_one_instance(#[case] engine: EngineKind) -> Result<()> {
    let fixture = &refill_fixtures::DIGEST;
    let mut instance = instantiate(engine, fixture.wasm, 64 << 10)?;
    let mut sizes = Vec::new();
    for round in 0..20u64 {
        let len = 100_000 + round * 7_919;
        let result = instance.call_with_streams(fixture.export, [generated(round, len)])?;
        assert_eq!(
            result as u64,
            generated_digest(round, len),
            "{engine} round {round}"
        );
        sizes.push(instance.memory_size());
    }
    assert!(
        sizes.windows(2).skip(1).all(|w| w[0] == w[1]),
        "memory grew: {sizes:?}"
    );
    Ok(())
}
