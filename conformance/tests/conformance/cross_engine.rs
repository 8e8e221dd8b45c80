//! Every engine gives the same answers as every other.

use refill::{EngineKind, Result};
use refill_conformance::{Outcome, generated, run};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

fn outcomes(engine: EngineKind) -> Result<Vec<(Outcome, &'static str)>> {
    let mut all = Vec::new();
    for (len, chunk) in [
        (0, 4096),
        (12_345, 4096),
        (1 << 20, 65_536),
        (5_000_001, 1 << 20),
    ] {
        for fixture in [
            &refill_fixtures::DIGEST,
            &refill_fixtures::COLLECT,
            &refill_fixtures::ODD_READS,
            &refill_fixtures::SKIP,
        ] {
            let mut out = run(engine, fixture, vec![generated(len, len)], chunk)?;
            // Memory size is the guest allocator's business, compared in memory.rs.
            out.memory_size = 0;
            all.push((out, fixture.name));
        }
    }
    Ok(all)
}

/// Results, refill counts and byte counts are identical to those of every
/// other compiled engine for the same module, payload and chunk size.
#[apply(engines)]
fn same_results_as_every_other_engine(#[case] engine: EngineKind) -> Result<()> {
    let mine = outcomes(engine)?;
    for other in EngineKind::compiled().filter(|&k| k != engine) {
        assert_eq!(mine, outcomes(other)?, "{engine} vs {other}");
    }
    Ok(())
}
