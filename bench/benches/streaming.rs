//! Criterion benches: each workload on each engine, 64 MiB in 64 KiB chunks
//! (the CLI's `refill bench` runs the whole matrix and the ratios).

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use refill::EngineKind;
use refill_bench::{Workload, payload, run};

const LEN: u64 = 64 << 20;
const CHUNK: u32 = 64 << 10;

fn streaming(c: &mut Criterion) {
    let data = payload(LEN);
    let mut group = c.benchmark_group("64MiB_64KiB");
    group.throughput(Throughput::Bytes(LEN));
    group.sample_size(10);
    for workload in Workload::ALL {
        let engines: Vec<Option<EngineKind>> = if workload.needs_engine() {
            EngineKind::compiled().map(Some).collect()
        } else {
            vec![None]
        };
        for engine in engines {
            let name = engine.map_or("host", |e| e.name());
            group.bench_function(BenchmarkId::new(workload.name(), name), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| match run(engine, workload, &data, CHUNK, 1) {
                            Ok(m) => std::time::Duration::from_secs_f64(m.seconds),
                            Err(e) => panic!("{workload} on {name}: {e}"),
                        })
                        .sum()
                });
            });
        }
    }
    group.finish();
}

criterion_group!(benches, streaming);
criterion_main!(benches);
