//! The module cache on every engine: a module loaded from it is the module
//! compiling gives, results and limits alike. Whether an engine keeps
//! artifacts at all is data (`Artifacts::artifact_key`), not a `cfg`:
//! wasmi keeps none and the cache compiles.

use refill::cache::{CacheOutcome, ModuleCache};
use refill::{
    AnyEngine, Artifacts, EngineConfig, EngineKind, ErrorKind, InstanceConfig, InstanceExt, Limits,
    Module, Result,
};
use refill_conformance::{generated, generated_digest};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::kind_of;

/// A module from the cache streams and digests as the compiled one, and its
/// fuel limit stops it with `CpuBudgetExhausted` as the compiled one's
/// does; the second compile of an engine with artifacts is a hit, and a
/// damaged file is recompiled.
#[apply(engines)]
fn a_cached_module_behaves_as_a_compiled_one(#[case] engine: EngineKind) -> Result<()> {
    let any = AnyEngine::with_config(engine, &EngineConfig::new().with_fuel_metering(true))?;
    let dir = std::env::temp_dir().join(format!(
        "refill-conformance-cache-{}-{engine}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = ModuleCache::open(&dir).map_err(|e| refill::Error::host(e.to_string()))?;
    let digest = refill_fixtures::DIGEST;
    let keeps_artifacts = any.artifact_key(digest.wasm).is_some();
    let (compiled, first) = cache.compile(&any, digest.wasm)?;
    let (loaded, second) = cache.compile(&any, digest.wasm)?;
    let expected = if keeps_artifacts {
        [CacheOutcome::Miss, CacheOutcome::Hit]
    } else {
        [CacheOutcome::Uncached, CacheOutcome::Uncached]
    };
    assert_eq!([first.outcome, second.outcome], expected, "{engine}");

    for module in [&compiled, &loaded] {
        let mut instance = module.instantiate(&InstanceConfig::new())?;
        let got = instance.call_with_streams(digest.export, [generated(7, 300_000)])?;
        assert_eq!(got as u64, generated_digest(7, 300_000), "{engine}");
        let starved = InstanceConfig::new().with_limits(Limits::default().with_fuel(Some(10_000)));
        let mut instance = module.instantiate(&starved)?;
        let result = instance.call_with_streams(digest.export, [generated(7, 1 << 20)]);
        assert_eq!(kind_of(result), ErrorKind::CpuBudgetExhausted, "{engine}");
    }

    if let Some(file) = second.file {
        std::fs::write(&file, b"REFILLAR but nothing else")
            .map_err(|e| refill::Error::host(e.to_string()))?;
        let (module, third) = cache.compile(&any, digest.wasm)?;
        assert_eq!(third.outcome, CacheOutcome::Recompiled, "{engine}");
        assert_eq!(third.warnings.len(), 1, "{engine}: {:?}", third.warnings);
        let mut instance = module.instantiate(&InstanceConfig::new())?;
        let got = instance.call_with_streams(digest.export, [generated(1, 1000)])?;
        assert_eq!(got as u64, generated_digest(1, 1000));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
