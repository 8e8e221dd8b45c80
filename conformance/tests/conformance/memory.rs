//! Guest memory stays O(chunk) when streaming, O(payload) when collecting.

use refill::{EngineKind, Result};
use refill_conformance::{generated, run};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

/// The digest guest's memory after the call is the same for 1 MiB and
/// 16 MiB payloads: it depends on the chunk, not the state.
#[apply(engines)]
fn streaming_memory_does_not_grow_with_the_payload(#[case] engine: EngineKind) -> Result<()> {
    let small = run(
        engine,
        &refill_fixtures::DIGEST,
        vec![generated(1, 1 << 20)],
        64 << 10,
    )?;
    let large = run(
        engine,
        &refill_fixtures::DIGEST,
        vec![generated(1, 16 << 20)],
        64 << 10,
    )?;
    assert_eq!(small.memory_size, large.memory_size, "{engine}");
    assert!(
        large.memory_size < 1 << 20,
        "{engine}: {} bytes",
        large.memory_size
    );
    Ok(())
}

/// The collecting guest (freenet's read_to_end) needs at least the payload's
/// size: the contrast streaming exists for.
#[apply(engines)]
fn collecting_memory_grows_with_the_payload(#[case] engine: EngineKind) -> Result<()> {
    let len = 16 << 20;
    let out = run(
        engine,
        &refill_fixtures::COLLECT,
        vec![generated(1, len)],
        64 << 10,
    )?;
    assert!(
        out.memory_size >= len,
        "{engine}: {} bytes",
        out.memory_size
    );
    Ok(())
}
