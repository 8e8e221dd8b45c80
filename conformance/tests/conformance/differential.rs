//! Differential testing: random payload sizes, chunk sizes and reading styles
//! give identical results on every engine, equal to the host's.

use refill::{EngineKind, Result};
use refill_conformance::{Outcome, generated, generated_digest, run};
use refill_fixtures::Fixture;
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

/// Cases drawn per engine; the draw is seeded, so every engine (and every
/// run) sees the same cases and a failure names a reproducible case.
const CASES: u64 = 48;

/// A small deterministic generator (splitmix64).
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One drawn case: a reading style, a chunk size (8 B to 1 MiB, biased to
/// small), a payload length (biased to chunk boundaries) and a seed.
fn case(k: u64) -> (&'static Fixture, u32, u64, u64) {
    let mut draw = Draw(k);
    let fixtures = [
        &refill_fixtures::DIGEST,
        &refill_fixtures::COLLECT,
        &refill_fixtures::ODD_READS,
        &refill_fixtures::SKIP,
    ];
    let fixture = fixtures[draw.below(fixtures.len() as u64) as usize];
    let scale = 4 + draw.below(17);
    let chunk = (8 + draw.below(1 << scale)).min(1 << 20) as u32;
    let c = u64::from(chunk);
    let len = match draw.below(4) {
        0 => draw.below(4 * c + 9),
        1 => (c - 4 + draw.below(3 * c)).saturating_sub(draw.below(9)),
        2 => draw.below(1 << 20),
        _ => draw.below(3 << 20),
    };
    (fixture, chunk, len, draw.next())
}

fn expected(fixture: &Fixture, seed: u64, len: u64) -> u64 {
    if fixture.name == refill_fixtures::SKIP.name {
        len
    } else {
        generated_digest(seed, len)
    }
}

/// Each drawn case gives the host's expected result and exactly the same
/// outcome (result, refills, bytes, streams) as on every other compiled engine.
#[apply(engines)]
fn random_cases_agree_across_engines(#[case] engine: EngineKind) -> Result<()> {
    for k in 0..CASES {
        let (fixture, chunk, len, seed) = case(k);
        let outcome = |engine| -> Result<Outcome> {
            let mut out = run(engine, fixture, vec![generated(seed, len)], chunk)?;
            out.memory_size = 0; // the guest allocator's business
            Ok(out)
        };
        let mine = outcome(engine)?;
        let label = format!(
            "case {k}: {} chunk {chunk} len {len} on {engine}",
            fixture.name
        );
        assert_eq!(mine.result as u64, expected(fixture, seed, len), "{label}");
        assert_eq!(mine.stats.bytes_streamed, len, "{label}");
        for other in EngineKind::compiled().filter(|&o| o != engine) {
            assert_eq!(mine, outcome(other)?, "{label} vs {other}");
        }
    }
    Ok(())
}
