//! The other reading styles: collecting, odd read sizes, skipping.

use refill::{EngineKind, Result};
use refill_conformance::{expected_fills, generated, generated_digest, run};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

const SIZES: [u64; 6] = [0, 1, 4093, 65_537, 1 << 20, (3 << 20) + 1];

/// `read_to_end` into a `Vec` (the freenet pattern) yields the whole payload.
#[apply(engines)]
fn collect_reads_the_whole_payload(
    #[case] engine: EngineKind,
    #[values(4 << 10, 64 << 10)] chunk: u32,
) -> Result<()> {
    for len in SIZES {
        let out = run(
            engine,
            &refill_fixtures::COLLECT,
            vec![generated(len, len)],
            chunk,
        )?;
        assert_eq!(
            out.result as u64,
            generated_digest(len, len),
            "{engine} len {len}"
        );
        assert_eq!(out.stats.fills, expected_fills(len, chunk));
    }
    Ok(())
}

/// Reads of 1, 3, 4093 and 65537 bytes straddle chunk boundaries in every
/// way and still see every byte once, in order.
#[apply(engines)]
fn odd_read_sizes_see_every_byte(
    #[case] engine: EngineKind,
    #[values(4 << 10, 64 << 10)] chunk: u32,
) -> Result<()> {
    for len in SIZES {
        let out = run(
            engine,
            &refill_fixtures::ODD_READS,
            vec![generated(len + 1, len)],
            chunk,
        )?;
        assert_eq!(
            out.result as u64,
            generated_digest(len + 1, len),
            "{engine} len {len}"
        );
    }
    Ok(())
}

/// A guest that only asks for chunks receives exactly the declared length.
#[apply(engines)]
fn skip_receives_the_declared_length(#[case] engine: EngineKind) -> Result<()> {
    for len in SIZES {
        let out = run(
            engine,
            &refill_fixtures::SKIP,
            vec![generated(0, len)],
            16 << 10,
        )?;
        assert_eq!(out.result as u64, len, "{engine}");
        assert_eq!(out.stats.bytes_streamed, len);
    }
    Ok(())
}
