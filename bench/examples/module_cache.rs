//! Where a module-cache hit's time goes, on wasmtime and wasmer, for the
//! freenet fixture and a generated module of about 800 KB: `refill bench
//! --parts per-call` reports compile against load; this splits the load.
//!
//! ```text
//! cargo run -p refill-bench --release --example module_cache
//! ```
//!
//! "compile" is `Engine::compile`, "load" is `ModuleCache::compile` on a
//! hit (reading the file, verifying its envelope, hashing the wasm for the
//! key, deserializing), medians of five.

use std::time::{Duration, Instant};

use refill::cache::ModuleCache;
use refill::core::artifact::VerifiedArtifact;
use refill::{AnyEngine, Artifacts, EngineKind};
use refill_bench::per_call;

const RUNS: usize = 5;

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Where a hit's time goes: reading the file, the key (hashing the wasm),
/// verifying the envelope (hashing the payload), and the engine's load
/// (the key again, deserializing, on wasmer the layout from the wasm).
fn load_breakdown(cache: &ModuleCache, engine: &AnyEngine, wasm: &[u8]) -> String {
    let started = Instant::now();
    let key = engine
        .artifact_key(wasm)
        .unwrap_or_else(|| panic!("no key"));
    let keyed = started.elapsed();
    let started = Instant::now();
    let bytes = std::fs::read(cache.file_of(&key)).unwrap_or_else(|e| panic!("{e}"));
    let read = started.elapsed();
    let started = Instant::now();
    let artifact = VerifiedArtifact::verify(&bytes, &key).unwrap_or_else(|e| panic!("{e}"));
    let verified = started.elapsed();
    let started = Instant::now();
    engine
        .load(wasm, artifact)
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded = started.elapsed();
    format!(
        "(artifact {} KB: key {:.2}, read {:.2}, verify {:.2}, engine load {:.2} ms)",
        bytes.len() / 1000,
        millis(keyed),
        millis(read),
        millis(verified),
        millis(loaded)
    )
}

fn main() -> refill::Result<()> {
    let dir = std::env::temp_dir().join(format!("refill-module-cache-{}", std::process::id()));
    let cache = ModuleCache::open(&dir).unwrap_or_else(|e| panic!("cache dir: {e}"));
    let modules = [
        ("freenet_log", refill_fixtures::FREENET_LOG.to_vec()),
        ("generated", per_call::generated_module(4_300)?),
    ];
    println!(
        "{:<12} {:>9} {:<9} {:>12} {:>12} {:>9}",
        "module", "wasm", "engine", "compile ms", "load ms", "speed-up"
    );
    for (name, wasm) in &modules {
        for kind in [EngineKind::Wasmtime, EngineKind::Wasmer] {
            let load = per_call::load(kind, name, wasm, &dir, RUNS)?;
            let breakdown = load_breakdown(&cache, &AnyEngine::new(kind)?, wasm);
            println!(
                "{:<12} {:>6} KB {:<9} {:>12.2} {:>12.2} {:>8.0}x   {breakdown}",
                name,
                wasm.len() / 1000,
                kind,
                millis(load.compile),
                millis(load.load),
                load.speed_up()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
