//! Async fan-in: many instances on a two-thread tokio runtime, each
//! streaming from a source that waits 1 ms before every chunk (a network's
//! pace), against one instance alone. If the guests wait in parallel, the
//! many finish in about the time of the one; if waiting blocked a thread,
//! they would take turns two at a time.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use refill::{
    AnyEngine, AnyInstance, AsyncInstance, AsyncSource, Engine, EngineKind, Error, ErrorKind,
    HostFunctions, InstanceConfig, LinkedModule, Module, Result,
};
use refill_fixtures::DIGEST;
use refill_testkit::async_io::PacedReader;

use crate::per_call::median;

/// What each source waits before each chunk.
pub const CHUNK_DELAY: Duration = Duration::from_millis(1);

/// The shape of one fan-in measurement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FanInPlan {
    /// Instances streaming at once.
    pub instances: usize,
    /// Chunks each source yields, each after [`CHUNK_DELAY`].
    pub chunks: u32,
    /// The chunk size, of the sources' pieces and the instances' buffers.
    pub chunk: u32,
    /// Rounds; each figure is a median.
    pub rounds: usize,
}

impl FanInPlan {
    /// The shape: 100 instances, 16 chunks of 4 KiB each.
    pub const TARGET: Self = Self {
        instances: 100,
        chunks: 16,
        chunk: 4096,
        rounds: 5,
    };
}

/// One engine's fan-in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FanIn {
    /// The engine.
    pub engine: EngineKind,
    /// The shape.
    pub plan: FanInPlan,
    /// One instance's call, alone on the runtime (median).
    pub one: Duration,
    /// All the instances' calls at once, until the last finished (median).
    pub many: Duration,
}

impl FanIn {
    /// How many times one instance's time the many took (target ≤ 2).
    pub fn ratio(&self) -> f64 {
        self.many.as_secs_f64() / self.one.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// `engine` built for `instances` waiting at once: wasmer's fallback holds
/// a worker thread per waiting call, so it gets that many workers.
fn engine_for(engine: EngineKind, instances: usize) -> Result<AnyEngine> {
    let any = AnyEngine::new(engine)?;
    match any {
        AnyEngine::Wasmer(wasmer) => {
            let threads = NonZeroUsize::new(instances).unwrap_or(NonZeroUsize::MIN);
            Ok(AnyEngine::Wasmer(wasmer.with_worker_threads(threads)))
        }
        other => Ok(other),
    }
}

/// Measures `plan` on `engine`: the digest guest, linked for async calls,
/// on a two-thread tokio runtime; instances are made before the clock
/// starts. Each call's digest is checked against the payload's.
pub fn fan_in(engine: EngineKind, plan: FanInPlan) -> Result<FanIn> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .map_err(|e| {
            Error::new(ErrorKind::Engine, "cannot start a tokio runtime").with_source(e)
        })?;
    let mut host = HostFunctions::new();
    host.enable_async();
    let linked = engine_for(engine, plan.instances)?
        .compile(DIGEST.wasm)?
        .link(&host)?;
    let config = InstanceConfig::new().with_chunk_size(plan.chunk);
    let len = u64::from(plan.chunks) * u64::from(plan.chunk);
    let expected = refill_testkit::generated_digest(5, len) as i64;
    let mut instances = (0..plan.instances)
        .map(|_| linked.instantiate(&config))
        .collect::<Result<Vec<AnyInstance>>>()?;

    let (mut ones, mut manys) = (Vec::new(), Vec::new());
    for _ in 0..plan.rounds.max(1) {
        let (one, back) =
            runtime.block_on(calls(vec![instances.remove(0)], plan, len, expected))?;
        instances.splice(0..0, back);
        ones.push(one);
        let all = std::mem::take(&mut instances);
        let (many, back) = runtime.block_on(calls(all, plan, len, expected))?;
        instances = back;
        manys.push(many);
    }
    Ok(FanIn {
        engine,
        plan,
        one: median(ones),
        many: median(manys),
    })
}

/// Calls every instance at once, each in a task of its own, each from a
/// paced source; the time until the last finished, and the instances.
async fn calls(
    instances: Vec<AnyInstance>,
    plan: FanInPlan,
    len: u64,
    expected: i64,
) -> Result<(Duration, Vec<AnyInstance>)> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut instance in instances {
        tasks.spawn(async move {
            let reader = PacedReader::new(5, len, plan.chunk as usize).with_delay(CHUNK_DELAY);
            let source = AsyncSource::new(reader, len);
            let result = instance
                .call_with_streams_async(DIGEST.export, vec![source.into()])
                .await;
            (instance, result)
        });
    }
    let mut back = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        let (instance, result) = joined
            .map_err(|e| Error::new(ErrorKind::Engine, "a fan-in task failed").with_source(e))?;
        if result? != expected {
            return Err(Error::new(
                ErrorKind::Engine,
                "a fan-in call's digest differs",
            ));
        }
        back.push(instance);
    }
    Ok((started.elapsed(), back))
}
