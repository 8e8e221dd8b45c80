#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use refill::{
    AnyEngine, AnyInstance, AnyLinkedModule, BoxedSource, Engine, EngineConfig, EngineKind,
    HostFunctions, Instance, InstanceConfig, InstanceExt, Module, Result, StreamStats,
};
use refill_fixtures::Fixture;

pub mod fuzzed;

pub use refill_testkit::hostile;

pub use refill_testkit::{GeneratedSource, expected_fills, generated_digest};

/// The chunk sizes every streaming case runs with: 4 KiB, 64 KiB, 1 MiB.
pub const CHUNK_SIZES: [u32; 3] = [4 << 10, 64 << 10, 1 << 20];

/// The payload sizes around a chunk boundary that every chunk size is tried
/// with: 0, 1, chunk-5, chunk-4, chunk-3, chunk, chunk+1, 3 chunks, 10 MiB + 7.
/// (`chunk - 4` is exactly what the first buffer holds after the header.)
pub fn payload_sizes(chunk: u32) -> [u64; 9] {
    let c = u64::from(chunk);
    [0, 1, c - 5, c - 4, c - 3, c, c + 1, 3 * c, (10 << 20) + 7]
}

/// A case in which one engine is known to behave differently, and why.
#[derive(Clone, Copy, Debug)]
pub struct Divergence {
    /// The engine that behaves differently.
    pub engine: EngineKind,
    /// The case, by its function name.
    pub case: &'static str,
    /// Why, in one sentence.
    pub reason: &'static str,
}

/// Known, documented differences between engines; every other case holds
/// identically on wasmi, wasmtime and wasmer.
pub const KNOWN_DIVERGENCES: &[Divergence] = &[
    Divergence {
        engine: EngineKind::Wasmer,
        case: "two_results_come_back_together",
        reason: "wasmer 7.4's singlepass compiler panics compiling a module that imports a \
                 function with more than one result, so refill-wasmer refuses such a module \
                 at compile time with Unsupported",
    },
    Divergence {
        engine: EngineKind::Wasmi,
        case: "an_instance_pool_bounds_live_instances",
        reason: "wasmi has no pooling allocator (an instance costs a few microseconds \
                 without one): an engine asked for a pool is Unsupported",
    },
    Divergence {
        engine: EngineKind::Wasmer,
        case: "an_instance_pool_bounds_live_instances",
        reason: "wasmer 7.4 has no pooling allocator: an engine asked for a pool is \
                 Unsupported",
    },
];

/// The documented divergence of `engine` in `case`, if any.
pub fn divergence(engine: EngineKind, case: &str) -> Option<&'static Divergence> {
    KNOWN_DIVERGENCES
        .iter()
        .find(|d| d.engine == engine && d.case == case)
}

/// What one call produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The export's return value.
    pub result: i64,
    /// The instance's streaming counters after the call.
    pub stats: StreamStats,
    /// Guest linear memory size after the call.
    pub memory_size: u64,
}

/// A fresh instance of `wasm` on `engine` with chunks of `chunk` bytes.
pub fn instantiate(engine: EngineKind, wasm: &[u8], chunk: u32) -> Result<AnyInstance> {
    instantiate_with(engine, wasm, &InstanceConfig::new().with_chunk_size(chunk))
}

/// A fresh instance of `wasm` on `engine` set up by `config`, on an engine
/// built for its limits (fuel metering when `config.limits.fuel` is set).
pub fn instantiate_with(
    engine: EngineKind,
    wasm: &[u8],
    config: &InstanceConfig,
) -> Result<AnyInstance> {
    let engine = AnyEngine::with_config(engine, &EngineConfig::for_limits(&config.limits))?;
    engine.compile(wasm)?.instantiate(config)
}

/// `wasm` compiled on `engine` (default configuration) and linked against
/// `host`.
pub fn link(engine: EngineKind, wasm: &[u8], host: &HostFunctions) -> Result<AnyLinkedModule> {
    AnyEngine::new(engine)?.compile(wasm)?.link(host)
}

/// Streams `sources` into a fresh instance of `fixture` and calls its export.
pub fn run(
    engine: EngineKind,
    fixture: &Fixture,
    sources: Vec<BoxedSource>,
    chunk: u32,
) -> Result<Outcome> {
    let mut instance = instantiate(engine, fixture.wasm, chunk)?;
    let result = instance.call_with_streams(fixture.export, sources)?;
    Ok(Outcome {
        result,
        stats: instance.stats(),
        memory_size: instance.memory_size(),
    })
}

/// A generated payload as a boxed source.
pub fn generated(seed: u64, len: u64) -> BoxedSource {
    Box::new(GeneratedSource::new(seed, len))
}

/// Instances move between threads and modules are shared between them.
#[allow(dead_code)]
fn thread_bounds() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<AnyInstance>();
    send_sync::<refill::AnyModule>();
    send_sync::<AnyEngine>();
}
