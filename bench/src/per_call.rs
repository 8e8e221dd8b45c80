//! The per-call path: what a host that calls small contracts constantly
//! pays per call, per module load and per live instance.
//!
//! - [`latency`]: a compiled module, a fresh instance per call, a 1 KiB or
//!   64 KiB state streamed into the digest guest and its result read back,
//!   against the engine's minimal hand-written binding doing the same;
//! - [`load`]: compiling a module against loading it from refill's module
//!   cache;
//! - [`live`]: many live instances of the freenet fixture, each called once,
//!   with the time to make them and the host memory they hold;
//! - [`calls_per_second`]: instances called at once from several threads.
//!
//! wasmtime is measured twice: with its defaults and with its pooling
//! allocator; and wasmer too: its `Send` instances (a handle to a store on
//! the engine's worker pool) and its local ones (the store on the caller's
//! thread), see [`Subject`].

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use refill::cache::{CacheOutcome, ModuleCache};
use refill::freenet::{Contract, FreenetHost, Protocol};
use refill::{
    AnyEngine, AnyLinkedModule, BytesSource, Engine, EngineConfig, EngineKind, Error, ErrorKind,
    HostFunctions, Instance, InstanceConfig, InstanceExt, IntoBoxedSource, LinkedModule, Module,
    Pooling, Result,
};

use crate::minimal::{self, AnyBinding};
use crate::rss;

/// How a subject's instances are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The engine's defaults and `instantiate`: on wasmer a `Send` handle
    /// to a store kept by one of the engine's worker threads.
    Default,
    /// `instantiate_local`: on wasmer the store on the calling thread.
    Local,
    /// wasmtime's pooling allocator (`EngineConfig::pooling`).
    Pooling,
}

/// What is measured: an engine, and how its instances are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subject {
    /// The engine.
    pub engine: EngineKind,
    /// How instances are made.
    pub mode: Mode,
}

impl Subject {
    /// Every engine in `engines` with its defaults, then wasmtime with its
    /// pooling allocator and wasmer with local instances.
    pub fn all(engines: &[EngineKind]) -> Vec<Self> {
        let mut subjects: Vec<Self> = engines
            .iter()
            .map(|&engine| Self {
                engine,
                mode: Mode::Default,
            })
            .collect();
        for (engine, mode) in [
            (EngineKind::Wasmtime, Mode::Pooling),
            (EngineKind::Wasmer, Mode::Local),
        ] {
            if engines.contains(&engine) {
                subjects.push(Self { engine, mode });
            }
        }
        subjects
    }

    /// The subject named `name`, as [`Subject`]'s `Display` writes it.
    pub fn by_name(name: &str) -> Option<Self> {
        let (engine, mode) = if let Some(engine) = name.strip_suffix("-local") {
            (engine, Mode::Local)
        } else if let Some(engine) = name.strip_suffix("-pooling") {
            (engine, Mode::Pooling)
        } else {
            (name, Mode::Default)
        };
        let engine = engine.parse().ok()?;
        Some(Self { engine, mode })
    }

    /// The subject's engine; with pooling, a pool of `slots` instances.
    pub fn engine(self, slots: usize) -> Result<AnyEngine> {
        let pooling = (self.mode == Mode::Pooling).then(|| {
            // The fixtures need a few MiB at most; the pool reserves
            // address space for every slot.
            Pooling::new(u32::try_from(slots).unwrap_or(u32::MAX)).with_memory_bytes(64 << 20)
        });
        AnyEngine::with_config(self.engine, &EngineConfig::default().with_pooling(pooling))
    }

    /// Instantiates `linked` the subject's way and runs `f` on it.
    fn with_instance<R>(
        self,
        linked: &AnyLinkedModule,
        config: &InstanceConfig,
        f: impl FnOnce(&mut dyn Instance) -> Result<R>,
    ) -> Result<R> {
        if self.mode == Mode::Local {
            f(&mut linked.instantiate_local(config)?)
        } else {
            f(&mut linked.instantiate(config)?)
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.engine.name())?;
        match self.mode {
            Mode::Default => Ok(()),
            Mode::Local => f.write_str("-local"),
            Mode::Pooling => f.write_str("-pooling"),
        }
    }
}

fn failed(what: impl fmt::Display) -> Error {
    Error::new(ErrorKind::Engine, format!("benchmark: {what}"))
}

/// The median of `samples` (zero for none).
pub(crate) fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// One call-latency case: medians over rounds in which refill and the
/// minimal binding each ran once, back to back.
#[derive(Clone, Debug, PartialEq)]
pub struct Latency {
    /// Engine and kind of instance.
    pub subject: Subject,
    /// The state's length in bytes.
    pub state_bytes: usize,
    /// refill: instantiate the linked module (default limits: memory,
    /// deadline, counts), stream the state, call, read the result.
    pub refill: Duration,
    /// The minimal binding: the same round with no checks and no limits.
    pub minimal: Duration,
}

impl Latency {
    /// How many times the minimal binding's time refill's round takes.
    pub fn ratio(&self) -> f64 {
        self.refill.as_secs_f64() / self.minimal.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// The call-latency case of one subject and state size, ready to run
/// round after round: the digest guest compiled and linked once for
/// refill, and once for the minimal binding.
pub struct LatencyCase {
    subject: Subject,
    state: Bytes,
    expected: i64,
    linked: AnyLinkedModule,
    config: InstanceConfig,
    binding: AnyBinding,
}

impl LatencyCase {
    /// Compiles the digest guest for `subject` and its minimal binding, and
    /// generates a state of `state_bytes`.
    pub fn new(subject: Subject, state_bytes: usize) -> Result<Self> {
        let wasm = refill_fixtures::DIGEST.wasm;
        let state = Bytes::from(refill_testkit::generated(5, state_bytes));
        let expected = refill_testkit::digest(&state) as i64;
        let linked = subject
            .engine(2)?
            .compile(wasm)?
            .link(&HostFunctions::new())?;
        let binding = match subject.engine {
            EngineKind::Wasmi => {
                minimal::wasmi::Binding::new(wasm, "digest").map(AnyBinding::Wasmi)
            }
            EngineKind::Wasmtime => {
                minimal::wasmtime::Binding::new(wasm, "digest").map(AnyBinding::Wasmtime)
            }
            EngineKind::Wasmer => {
                minimal::wasmer::Binding::new(wasm, "digest").map(AnyBinding::Wasmer)
            }
            other => Err(format!("no minimal binding for {other}")),
        }
        .map_err(failed)?;
        Ok(Self {
            subject,
            state,
            expected,
            linked,
            config: InstanceConfig::new(),
            binding,
        })
    }

    /// One refill round, timed: instantiate the linked module (default
    /// limits), stream the state, call, read the result; checked against
    /// the host's digest.
    pub fn refill_round(&self) -> Result<Duration> {
        let started = Instant::now();
        let result = self
            .subject
            .with_instance(&self.linked, &self.config, |instance| {
                let source = BytesSource::new(self.state.clone()).boxed();
                instance.call_with_streams("digest", [source])
            })?;
        let took = started.elapsed();
        if result != self.expected {
            return Err(failed(format!(
                "{} digest {result}, host {}",
                self.subject, self.expected
            )));
        }
        Ok(took)
    }

    /// One round of the minimal binding, timed the same way.
    pub fn minimal_round(&self) -> Result<Duration> {
        let started = Instant::now();
        let run = self
            .binding
            .digest(self.state.clone(), 64 << 10)
            .map_err(failed)?;
        let took = started.elapsed();
        if run.result != self.expected {
            return Err(failed(format!(
                "minimal {} digest {}",
                self.subject, run.result
            )));
        }
        Ok(took)
    }
}

/// Call latency of `subject` at `state_bytes`, the median of `rounds`.
pub fn latency(subject: Subject, state_bytes: usize, rounds: usize) -> Result<Latency> {
    let case = LatencyCase::new(subject, state_bytes)?;
    // Warm both (code paged in, a wasmer worker started).
    case.refill_round()?;
    case.minimal_round()?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        ours.push(case.refill_round()?);
        theirs.push(case.minimal_round()?);
    }
    Ok(Latency {
        subject,
        state_bytes,
        refill: median(ours),
        minimal: median(theirs),
    })
}

/// A module of `functions` small exported arithmetic functions: about
/// 185 bytes of wasm each, so 4 300 give about 800 KB, the size of a large
/// real contract.
pub fn generated_module(functions: usize) -> Result<Vec<u8>> {
    use std::fmt::Write as _;
    let mut text = String::from(
        "(module (memory (export \"memory\") 1)\n\
         (func (export \"__frnt__initiate_buffer\") (param i32) (result i64) i64.const 0)\n",
    );
    for f in 0..functions {
        let _ = write!(
            text,
            "(func (export \"f{f}\") (param i64) (result i64) (local i64)"
        );
        for k in 0..12 {
            let _ = write!(
                text,
                " (local.set 1 (i64.add (i64.mul (local.get 0) (i64.const {})) \
                 (i64.xor (local.get 1) (i64.const {}))))",
                f * 31 + k,
                k * 7 + 1
            );
        }
        text.push_str(" (local.get 1))\n");
    }
    text.push(')');
    wat::parse_str(&text).map_err(|e| failed(format!("generated module: {e}")))
}

/// Compiling a module against loading it from the module cache.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// The engine.
    pub engine: EngineKind,
    /// The module's name in reports.
    pub module: String,
    /// The wasm's length in bytes.
    pub wasm_bytes: usize,
    /// The median `Engine::compile`.
    pub compile: Duration,
    /// The median `ModuleCache::compile` on a hit: reading the file,
    /// verifying its envelope, hashing the wasm for the key, deserializing.
    pub load: Duration,
}

impl Load {
    /// How many times faster a load from the cache is than a compile.
    pub fn speed_up(&self) -> f64 {
        self.compile.as_secs_f64() / self.load.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// Compile and cache load of `wasm` (called `module`) on `engine`, medians
/// of `runs`, the cache kept in `dir`. Every load must be a hit.
pub fn load(
    engine: EngineKind,
    module: &str,
    wasm: &[u8],
    dir: &Path,
    runs: usize,
) -> Result<Load> {
    let cache =
        ModuleCache::open(dir).map_err(|e| failed(format!("cache {}: {e}", dir.display())))?;
    let engine_ = AnyEngine::new(engine)?;
    let mut compile = Vec::new();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        engine_.compile(wasm)?;
        compile.push(started.elapsed());
    }
    // The first goes through the cache to fill it; the timed ones load.
    cache.compile(&engine_, wasm)?;
    let mut loads = Vec::new();
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let (_, report) = cache.compile(&engine_, wasm)?;
        loads.push(started.elapsed());
        if report.outcome != CacheOutcome::Hit {
            return Err(failed(format!(
                "{engine} {module}: cache {:?} ({:?})",
                report.outcome, report.warnings
            )));
        }
    }
    Ok(Load {
        engine,
        module: module.to_owned(),
        wasm_bytes: wasm.len(),
        compile: median(compile),
        load: median(loads),
    })
}

/// The freenet_log contract compiled for `subject` (with pooling, a pool
/// of `slots`) and linked against freenet's host functions.
pub fn freenet_fixture(subject: Subject, slots: usize) -> Result<AnyLinkedModule> {
    subject
        .engine(slots)?
        .compile(refill_fixtures::FREENET_LOG)?
        .link(&FreenetHost::new().host_functions())
}

/// `summarize_state` of a 1 KiB state: the call [`live`] and
/// [`calls_per_second`] make.
fn summarize<I: Instance>(contract: &mut Contract<I>) -> Result<()> {
    let params = BytesSource::new(Vec::new()).boxed();
    let state = BytesSource::new(vec![7u8; 1024]).boxed();
    contract
        .summarize_state(params, state)
        .and_then(|summary| summary.into_ok())
        .map(drop)
        .map_err(|e| failed(format!("summarize_state: {e}")))
}

/// Many live instances, each made and called once.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    /// Engine and kind of instance.
    pub subject: Subject,
    /// Instances made and held.
    pub count: usize,
    /// Time to make them all and call each once.
    pub took: Duration,
    /// Host RSS growth over making them, in bytes (Linux only).
    pub rss_growth_bytes: Option<u64>,
    /// A lower bound of the guest memory each instance has touched: its
    /// pages that are not all zeros after the call.
    pub touched_bytes: u64,
    /// The process's threads while they were live (Linux only).
    pub threads: Option<u64>,
}

impl Live {
    /// Host RSS per idle instance beyond the guest memory it touched, in
    /// bytes.
    pub fn beyond_touched_bytes(&self) -> Option<f64> {
        self.rss_growth_bytes
            .map(|g| g as f64 / self.count.max(1) as f64 - self.touched_bytes as f64)
    }
}

/// Makes `count` instances of the freenet fixture on `subject` one after
/// another, calls each once and keeps it. Run it in a process of its own
/// (`refill bench` does), so that no other case's memory counts.
pub fn live(subject: Subject, count: usize) -> Result<Live> {
    let linked = freenet_fixture(subject, count + 1)?;
    let config = InstanceConfig::new();
    if subject.mode == Mode::Local {
        hold(subject, count, || linked.instantiate_local(&config))
    } else {
        hold(subject, count, || linked.instantiate(&config))
    }
}

/// [`live`] over instances made by `make`.
fn hold<I: Instance>(subject: Subject, count: usize, make: impl Fn() -> Result<I>) -> Result<Live> {
    let called = || -> Result<Contract<I>> {
        let mut contract = Contract::from_instance(make()?, Protocol::Streaming);
        summarize(&mut contract)?;
        Ok(contract)
    };
    // One first, so that what is made once per process (code, a worker,
    // signal handlers) does not count per instance.
    let warm = called()?;
    let size = warm.instance().memory_size();
    let touched = warm
        .instance()
        .read_memory(0, size)?
        .chunks(4096)
        .filter(|page| page.iter().any(|&b| b != 0))
        .count() as u64
        * 4096;
    let before = rss::current_bytes();
    let started = Instant::now();
    let mut held = Vec::with_capacity(count);
    for made in 0..count {
        held.push(
            called()
                .map_err(|e| Error::new(e.kind(), format!("instance {made} of {count}: {e}")))?,
        );
    }
    let took = started.elapsed();
    let after = rss::current_bytes();
    let threads = rss::threads();
    drop(held);
    Ok(Live {
        subject,
        count,
        took,
        rss_growth_bytes: before.zip(after).map(|(b, a)| a.saturating_sub(b)),
        touched_bytes: touched,
        threads,
    })
}

/// How the calls of [`calls_per_second`] get their instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Calls {
    /// One instance per thread, called again and again: the cost of a call
    /// alone. (freenet-stdlib's guests leave the buffers of each call
    /// allocated, so such an instance's memory grows slowly.)
    Reused,
    /// A fresh instance of the one compiled module per call, as a freenet
    /// node calls contracts: instantiation and its memory mappings count.
    Fresh,
}

/// Calls per second of `summarize_state` (1 KiB) on the freenet fixture
/// from `threads` threads at once, each making `calls` calls, their
/// instances made as `how` says.
pub fn calls_per_second(subject: Subject, threads: usize, calls: usize, how: Calls) -> Result<f64> {
    let threads = threads.max(1);
    let linked = freenet_fixture(subject, threads)?;
    let config = InstanceConfig::new();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (linked, config) = (&linked, &config);
                scope.spawn(move || match (subject.mode == Mode::Local, how) {
                    (true, Calls::Reused) => {
                        call_repeatedly(linked.instantiate_local(config)?, calls)
                    }
                    (false, Calls::Reused) => call_repeatedly(linked.instantiate(config)?, calls),
                    (true, Calls::Fresh) => (0..calls)
                        .try_for_each(|_| call_repeatedly(linked.instantiate_local(config)?, 1)),
                    (false, Calls::Fresh) => {
                        (0..calls).try_for_each(|_| call_repeatedly(linked.instantiate(config)?, 1))
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| failed("a calling thread panicked"))?)
    })?;
    Ok((threads * calls) as f64 / started.elapsed().as_secs_f64())
}

/// `calls` summaries on `instance`.
fn call_repeatedly<I: Instance>(instance: I, calls: usize) -> Result<()> {
    let mut contract = Contract::from_instance(instance, Protocol::Streaming);
    (0..calls).try_for_each(|_| summarize(&mut contract))
}
