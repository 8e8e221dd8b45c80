//! Compiling against loading from refill's module cache, on wasmtime and
//! wasmer, for the freenet fixture and a generated module of about 800 KB.
//!
//! ```text
//! cargo run -p refill-bench --release --example module_cache
//! ```
//!
//! Each figure is the median of five: "compile" is `Engine::compile`,
//! "load" is `ModuleCache::compile` on a hit (reading the file, verifying
//! its envelope, hashing the wasm for the key, deserializing).

use std::time::{Duration, Instant};

use refill::cache::{CacheOutcome, ModuleCache};
use refill::core::artifact::VerifiedArtifact;
use refill::{AnyEngine, Artifacts, Engine, EngineKind};

const RUNS: usize = 5;

/// A module of `functions` small arithmetic functions, each exported.
fn generated_module(functions: usize) -> Vec<u8> {
    let mut text = String::from(
        "(module (memory (export \"memory\") 1)\n\
         (func (export \"__frnt__initiate_buffer\") (param i32) (result i64) i64.const 0)\n",
    );
    for f in 0..functions {
        text.push_str(&format!(
            "(func (export \"f{f}\") (param i64) (result i64) (local i64)"
        ));
        for k in 0..12 {
            text.push_str(&format!(
                " (local.set 1 (i64.add (i64.mul (local.get 0) (i64.const {})) \
                 (i64.xor (local.get 1) (i64.const {}))))",
                f * 31 + k,
                k * 7 + 1
            ));
        }
        text.push_str(" (local.get 1))\n");
    }
    text.push(')');
    wat::parse_str(&text).unwrap_or_else(|e| panic!("generated WAT: {e}"))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

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

fn main() {
    let dir = std::env::temp_dir().join(format!("refill-module-cache-{}", std::process::id()));
    let cache = ModuleCache::open(&dir).unwrap_or_else(|e| panic!("cache dir: {e}"));
    let modules = [
        ("freenet_log", refill_fixtures::FREENET_LOG.to_vec()),
        ("generated", generated_module(4_300)),
    ];
    println!(
        "{:<12} {:>9} {:<9} {:>12} {:>12} {:>9}",
        "module", "wasm", "engine", "compile ms", "load ms", "speed-up"
    );
    for (name, wasm) in &modules {
        for kind in [EngineKind::Wasmtime, EngineKind::Wasmer] {
            let engine = AnyEngine::new(kind).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let compile = median(
                (0..RUNS)
                    .map(|_| {
                        let started = Instant::now();
                        engine.compile(wasm).unwrap_or_else(|e| panic!("{e}"));
                        started.elapsed()
                    })
                    .collect(),
            );
            // The first call stores the artifact; the timed ones load it.
            let (_, first) = cache
                .compile(&engine, wasm)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(first.outcome, CacheOutcome::Miss, "{:?}", first.warnings);
            let load = median(
                (0..RUNS)
                    .map(|_| {
                        let started = Instant::now();
                        let (_, report) = cache
                            .compile(&engine, wasm)
                            .unwrap_or_else(|e| panic!("{e}"));
                        let elapsed = started.elapsed();
                        assert_eq!(report.outcome, CacheOutcome::Hit);
                        elapsed
                    })
                    .collect(),
            );
            let breakdown = load_breakdown(&cache, &engine, wasm);
            println!(
                "{:<12} {:>6} KB {:<9} {:>12.2} {:>12.2} {:>8.0}x   {breakdown}",
                name,
                wasm.len() / 1000,
                engine.name(),
                millis(compile),
                millis(load),
                compile.as_secs_f64() / load.as_secs_f64()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
