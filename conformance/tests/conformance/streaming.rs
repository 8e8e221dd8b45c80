//! Payload sizes around every chunk boundary, through the zero-copy reader.

use refill::{EngineKind, InstanceExt, Result};
use refill_conformance::{expected_fills, generated, generated_digest, payload_sizes, run};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

/// Reads `[digest: u64][len: u64]` at `addr` from guest memory.
fn record(bytes: &[u8]) -> (u64, u64) {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
    (word(0), word(8))
}

/// Every byte arrives once and in order, the guest's digest and length equal
/// the host's, and the refill count is exactly what the chunk size implies,
/// for each payload size around a chunk boundary and each chunk size.
#[apply(engines)]
fn digest_matches_host_for_every_size(
    #[case] engine: EngineKind,
    #[values(4 << 10, 64 << 10, 1 << 20)] chunk: u32,
    #[values(0, 1, 2, 3, 4, 5, 6, 7, 8)] size_index: usize,
) -> Result<()> {
    let len = payload_sizes(chunk)[size_index];
    let seed = len ^ u64::from(chunk);
    let fixture = &refill_fixtures::DIGEST_RECORD;
    let mut instance = refill_conformance::instantiate(engine, fixture.wasm, chunk)?;
    let addr =
        InstanceExt::call_with_streams(&mut instance, fixture.export, [generated(seed, len)])?;
    let (digest, got_len) = record(&refill::Instance::read_memory(&instance, addr, 16)?);
    let stats = refill::Instance::stats(&instance);
    assert_eq!(got_len, len, "{engine}: length");
    assert_eq!(digest, generated_digest(seed, len), "{engine}: digest");
    assert_eq!(stats.fills, expected_fills(len, chunk), "{engine}: fills");
    assert_eq!(stats.bytes_streamed, len, "{engine}: bytes");
    Ok(())
}

/// The plain digest export returns the same digest as the record, so `refill
/// run` prints what the host expects.
#[apply(engines)]
fn digest_export_returns_the_digest(#[case] engine: EngineKind) -> Result<()> {
    let len = 200_003;
    let out = run(
        engine,
        &refill_fixtures::DIGEST,
        vec![generated(5, len)],
        64 << 10,
    )?;
    assert_eq!(out.result as u64, generated_digest(5, len));
    Ok(())
}

/// A file streams like memory: `ReaderSource` over a file on disk.
#[apply(engines)]
fn file_source_streams_like_memory(#[case] engine: EngineKind) -> Result<()> {
    let data = refill_testkit::generated(11, 300_001);
    let path = std::env::temp_dir().join(format!(
        "refill-conformance-{}-{engine}.bin",
        std::process::id()
    ));
    std::fs::write(&path, &data).map_err(|e| {
        refill::Error::new(
            refill::ErrorKind::SourceFailed,
            "cannot write the temp file",
        )
        .with_source(e)
    })?;
    let source = refill::ReaderSource::open(&path);
    let outcome =
        source.and_then(|s| run(engine, &refill_fixtures::DIGEST, vec![Box::new(s)], 4096));
    let _ = std::fs::remove_file(&path);
    let outcome = outcome?;
    assert_eq!(outcome.result as u64, refill_testkit::digest(&data));
    assert_eq!(outcome.stats.fills, expected_fills(300_001, 4096));
    Ok(())
}
