//! Criterion benches of the per-call path (`refill bench --parts per-call`
//! runs them all with the ratios and targets): a call on a fresh instance
//! at 1 KiB and 64 KiB, refill and the minimal binding, per engine and
//! instance kind; and the freenet fixture compiled against loaded from the
//! module cache.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use refill::cache::{CacheOutcome, ModuleCache};
use refill::{AnyEngine, Engine, EngineKind, Result};
use refill_bench::per_call::{LatencyCase, Subject};

/// Runs `round` `iters` times and sums what each timed.
fn timed(iters: u64, round: impl Fn() -> Result<Duration>) -> Duration {
    (0..iters)
        .map(|_| round().unwrap_or_else(|e| panic!("{e}")))
        .sum()
}

fn latency(c: &mut Criterion) {
    let subjects = Subject::all(&EngineKind::compiled().collect::<Vec<_>>());
    for state in [1usize << 10, 64 << 10] {
        let mut group = c.benchmark_group(format!("call_{}KiB", state >> 10));
        for &subject in &subjects {
            let case = LatencyCase::new(subject, state).unwrap_or_else(|e| panic!("{e}"));
            let name = subject.to_string();
            group.bench_function(BenchmarkId::new("refill", &name), |b| {
                b.iter_custom(|iters| timed(iters, || case.refill_round()));
            });
            group.bench_function(BenchmarkId::new("minimal", &name), |b| {
                b.iter_custom(|iters| timed(iters, || case.minimal_round()));
            });
        }
        group.finish();
    }
}

fn load(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("refill-criterion-cache-{}", std::process::id()));
    let cache = ModuleCache::open(&dir).unwrap_or_else(|e| panic!("cache: {e}"));
    let wasm = refill_fixtures::FREENET_LOG;
    let mut group = c.benchmark_group("freenet_log_load");
    group.sample_size(10);
    for kind in [EngineKind::Wasmtime, EngineKind::Wasmer] {
        let engine = AnyEngine::new(kind).unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(BenchmarkId::new("compile", kind.name()), |b| {
            b.iter(|| engine.compile(wasm).unwrap_or_else(|e| panic!("{e}")));
        });
        cache
            .compile(&engine, wasm)
            .unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(BenchmarkId::new("cache_load", kind.name()), |b| {
            b.iter(|| {
                let (module, report) = cache
                    .compile(&engine, wasm)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(report.outcome, CacheOutcome::Hit, "{:?}", report.warnings);
                module
            });
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, latency, load);
criterion_main!(benches);
