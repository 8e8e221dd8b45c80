//! Instances and modules cross threads.

use refill::{Engine, EngineKind, InstanceConfig, InstanceExt, Module, Result};
use refill_conformance::{generated, generated_digest};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;

/// An instance made on one thread streams correctly on another, and one
/// compiled module serves instances on several threads at once.
#[apply(engines)]
fn instances_and_modules_cross_threads(#[case] engine: EngineKind) -> Result<()> {
    let module = refill::AnyEngine::new(engine)?.compile(refill_fixtures::DIGEST.wasm)?;
    let mut moved = module.instantiate(&InstanceConfig::new())?;
    let handle =
        std::thread::spawn(move || moved.call_with_streams("digest", [generated(1, 70_000)]));
    let result = handle
        .join()
        .map_err(|_| refill::Error::trap("worker thread panicked"))??;
    assert_eq!(result as u64, generated_digest(1, 70_000), "{engine}");

    std::thread::scope(|scope| -> Result<()> {
        let workers: Vec<_> = (0..4u64)
            .map(|k| {
                let module = &module;
                scope.spawn(move || -> Result<i64> {
                    let mut instance = module.instantiate(&InstanceConfig::new())?;
                    instance.call_with_streams("digest", [generated(k, 300_000 + k)])
                })
            })
            .collect();
        for (k, worker) in workers.into_iter().enumerate() {
            let k = k as u64;
            let result = worker
                .join()
                .map_err(|_| refill::Error::trap("worker panicked"))??;
            assert_eq!(
                result as u64,
                generated_digest(k, 300_000 + k),
                "{engine} thread {k}"
            );
        }
        Ok(())
    })
}
