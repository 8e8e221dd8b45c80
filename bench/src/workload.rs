//! The workloads and how one is measured.

use std::fmt;
use std::path::Path;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use bytes::Bytes;
use refill::{
    AnyEngine, AnyInstance, AnyLinkedModule, BoxedSource, BytesSource, Engine, EngineConfig,
    EngineKind, Error, ErrorKind, HostFunctions, Instance, InstanceConfig, InstanceExt,
    IntoBoxedSource, Limits, LinkedModule, Module, ReadAheadSource, ReaderSource, Result,
    StreamOptions,
};
use refill_fixtures::{COLLECT, DIGEST, DIGEST_WHOLE, SKIP};

use crate::{minimal, native, rss};

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// Streaming into the *skip* guest: every chunk taken, none touched
    /// (pure transfer).
    Skip,
    /// Streaming into the *digest* guest: each chunk digested in place.
    Digest,
    /// Streaming into the *collect* guest: the whole payload gathered in a
    /// `Vec`, then digested (freenet-stdlib's `read_to_end` pattern).
    Collect,
    /// The host writes the whole payload into guest memory at once
    /// (`StreamOptions::whole()`) and the guest digests it in place.
    WholeCopy,
    /// A minimal hand-written binding for the engine, digest guest.
    Minimal,
    /// The same minimal binding with the skip guest: the transfer alone.
    MinimalSkip,
    /// The copy-and-digest loop in plain Rust on the host.
    Native,
}

impl Workload {
    /// Every workload, in report order.
    pub const ALL: [Self; 7] = [
        Self::Skip,
        Self::Digest,
        Self::Collect,
        Self::WholeCopy,
        Self::Minimal,
        Self::MinimalSkip,
        Self::Native,
    ];

    /// Its name in tables and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Digest => "digest",
            Self::Collect => "collect",
            Self::WholeCopy => "whole-copy",
            Self::Minimal => "minimal",
            Self::MinimalSkip => "minimal-skip",
            Self::Native => "native",
        }
    }

    /// Whether it runs on an engine (everything but [`Workload::Native`]).
    pub const fn needs_engine(self) -> bool {
        !matches!(self, Self::Native)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One measured case: the median of its repetitions.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// The engine, `None` for [`Workload::Native`].
    pub engine: Option<EngineKind>,
    /// What ran.
    pub workload: Workload,
    /// Payload length in bytes.
    pub payload_bytes: u64,
    /// Chunk size in bytes.
    pub chunk: u32,
    /// Median wall time of one run, priming and refills included
    /// (instantiation excluded).
    pub seconds: f64,
    /// Refills served in one run.
    pub fills: u64,
    /// Guest linear memory after the run, in bytes (0 where not known).
    pub peak_memory_bytes: u64,
    /// The largest growth of the host's peak RSS over one run, in bytes
    /// (Linux only), guest memories of JIT engines included.
    pub rss_growth_bytes: Option<u64>,
}

impl Measurement {
    /// `payload_bytes / seconds` in GiB/s.
    pub fn gib_per_s(&self) -> f64 {
        gib_per_s(self.payload_bytes, self.seconds)
    }
}

/// A deterministic payload of `len` bytes, generated once and shared.
pub fn payload(len: u64) -> Bytes {
    Bytes::from(refill_testkit::generated(7, len as usize))
}

/// Limits for benchmarks: trusted (4 GiB of memory, no deadline, no fuel),
/// so that *collect* and *whole copy* can hold a 1 GiB payload and nothing
/// is metered, as in the minimal bindings they are compared with.
fn config(chunk: u32) -> InstanceConfig {
    InstanceConfig::new()
        .with_chunk_size(chunk)
        .with_limits(Limits::trusted())
}

/// The engine of `kind` built like the minimal bindings: without deadline
/// interruption (which meters fuel on wasmi and checks epochs on wasmtime).
fn engine(kind: EngineKind) -> Result<AnyEngine> {
    AnyEngine::with_config(kind, &EngineConfig::new().with_interruption(false))
}

/// What one repetition gives: elapsed time, fills, guest memory, result.
struct Rep {
    elapsed: Duration,
    fills: u64,
    memory: u64,
    result: i64,
}

/// Runs `workload` `reps` times on `engine` over `payload` in chunks of
/// `chunk`, each on a fresh instance, checks every result against the
/// host's digest (or length, for *skip*), and returns the median.
pub fn run(
    engine: Option<EngineKind>,
    workload: Workload,
    payload: &Bytes,
    chunk: u32,
    reps: usize,
) -> Result<Measurement> {
    let case = Case::new(engine, workload, payload)?;
    let mut runs = Vec::with_capacity(reps.max(1));
    let mut rss_growth = None::<u64>;
    for _ in 0..reps.max(1) {
        let (rep, growth) = rss::peak_growth(|| case.rep(payload, chunk));
        if let Some(g) = growth {
            rss_growth = Some(rss_growth.map_or(g, |r| r.max(g)));
        }
        runs.push(rep?);
    }
    runs.sort_by_key(|r| r.elapsed);
    let median = &runs[runs.len() / 2];
    let seconds = median.elapsed.as_secs_f64();
    Ok(Measurement {
        engine: case.engine,
        workload,
        payload_bytes: payload.len() as u64,
        chunk,
        seconds,
        fills: median.fills,
        peak_memory_bytes: median.memory,
        rss_growth_bytes: rss_growth,
    })
}

/// Runs each of `cases` once per round, round after round, so that the
/// machine's drift (other tenants, frequency) touches every case alike, and
/// returns each case's seconds by round. Ratios taken round by round from
/// these are steadier than ratios of separate medians.
pub fn rounds(
    cases: &[(Option<EngineKind>, Workload)],
    payload: &Bytes,
    chunk: u32,
    rounds: usize,
) -> Result<Vec<Vec<f64>>> {
    let mut seconds = vec![Vec::with_capacity(rounds); cases.len()];
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..rounds.max(1) {
        // Where an instance's allocations land (its stacks, its memory,
        // relative to each other and to the payload) moves an engine's
        // speed by up to ±20%, and the allocator repeats the same layout
        // case after case. Each case is compiled afresh behind a padding of
        // random size, so that layouts vary from round to round and the
        // median sees many of them instead of one case's luck.
        for (&(engine, workload), times) in cases.iter().zip(&mut seconds) {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let padding = std::hint::black_box(vec![0u8; 64 + (seed >> 40) as usize % (96 << 10)]);
            let case = Case::new(engine, workload, payload)?;
            times.push(case.rep(payload, chunk)?.elapsed.as_secs_f64());
            drop(padding);
        }
    }
    Ok(seconds)
}

/// The median of `values` (0 for none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// One case ready to run: its engine, workload, compiled module and the
/// result every run must give.
struct Case {
    engine: Option<EngineKind>,
    workload: Workload,
    prepared: Option<Prepared>,
    expected: i64,
}

impl Case {
    fn new(engine: Option<EngineKind>, workload: Workload, payload: &Bytes) -> Result<Self> {
        let engine = engine.filter(|_| workload.needs_engine());
        let prepared = match engine {
            Some(kind) => Some(Prepared::new(kind, workload)?),
            None if workload.needs_engine() => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!("{workload} needs an engine"),
                ));
            }
            None => None,
        };
        let expected = match workload {
            Workload::Skip | Workload::MinimalSkip => payload.len() as i64,
            _ => refill_testkit::digest(payload) as i64,
        };
        Ok(Self {
            engine,
            workload,
            prepared,
            expected,
        })
    }

    /// One run, its result checked.
    fn rep(&self, payload: &Bytes, chunk: u32) -> Result<Rep> {
        let workload = self.workload;
        let rep = match &self.prepared {
            Some(p) => p.rep(workload, payload, chunk)?,
            None => {
                let (digest, elapsed) = native::copy_and_digest(payload, chunk);
                Rep {
                    elapsed,
                    fills: 0,
                    memory: 0,
                    result: digest as i64,
                }
            }
        };
        if rep.result != self.expected {
            // A benchmark that measures a wrong result measures nothing.
            return Err(Error::new(
                ErrorKind::Engine,
                format!(
                    "stream corrupted: {workload} on {:?} returned {} for {} bytes, expected {}",
                    self.engine,
                    rep.result,
                    payload.len(),
                    self.expected
                ),
            ));
        }
        Ok(rep)
    }
}

/// `wasm` compiled by `kind` and linked with refill's own import.
fn linked(kind: EngineKind, wasm: &[u8]) -> Result<AnyLinkedModule> {
    engine(kind)?.compile(wasm)?.link(&HostFunctions::new())
}

/// `bytes / seconds` in GiB/s (0 for no time).
pub fn gib_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds / f64::from(1u32 << 30)
    } else {
        0.0
    }
}

/// The module of a workload on one engine, compiled and linked once for
/// its reps.
enum Prepared {
    /// Through refill.
    Refill(AnyLinkedModule),
    /// A minimal hand-written binding.
    Minimal(minimal::AnyBinding),
}

impl Prepared {
    fn new(kind: EngineKind, workload: Workload) -> Result<Self> {
        let wasm = match workload {
            Workload::Skip => SKIP.wasm,
            Workload::Collect => COLLECT.wasm,
            Workload::WholeCopy => DIGEST_WHOLE.wasm,
            Workload::Minimal => return Self::minimal(kind, &DIGEST),
            Workload::MinimalSkip => return Self::minimal(kind, &SKIP),
            _ => DIGEST.wasm,
        };
        Ok(Self::Refill(linked(kind, wasm)?))
    }

    fn minimal(kind: EngineKind, guest: &refill_fixtures::Fixture) -> Result<Self> {
        let (wasm, export) = (guest.wasm, guest.export);
        let binding = match kind {
            EngineKind::Wasmi => {
                minimal::wasmi::Binding::new(wasm, export).map(minimal::AnyBinding::Wasmi)
            }
            EngineKind::Wasmtime => {
                minimal::wasmtime::Binding::new(wasm, export).map(minimal::AnyBinding::Wasmtime)
            }
            EngineKind::Wasmer => {
                minimal::wasmer::Binding::new(wasm, export).map(minimal::AnyBinding::Wasmer)
            }
            other => Err(format!("no minimal binding for {other}")),
        };
        binding
            .map(Self::Minimal)
            .map_err(|e| Error::new(ErrorKind::Engine, format!("minimal binding: {e}")))
    }

    fn rep(&self, workload: Workload, payload: &Bytes, chunk: u32) -> Result<Rep> {
        let module = match self {
            Self::Refill(module) => module,
            Self::Minimal(binding) => {
                let run = binding
                    .digest(payload.clone(), chunk)
                    .map_err(|e| Error::new(ErrorKind::Engine, format!("minimal binding: {e}")))?;
                return Ok(Rep {
                    elapsed: run.elapsed,
                    fills: run.fills,
                    memory: 0,
                    result: run.result,
                });
            }
        };
        let mut instance = module.instantiate(&config(chunk))?;
        let source = BytesSource::new(payload.clone()).boxed();
        let started = Instant::now();
        let result = match workload {
            Workload::WholeCopy => {
                let desc = instance.open_stream(source, StreamOptions::whole())?;
                instance.call(DIGEST_WHOLE.export, &[desc])?
            }
            Workload::Skip => instance.call_with_streams(SKIP.export, [source])?,
            Workload::Collect => instance.call_with_streams(COLLECT.export, [source])?,
            _ => instance.call_with_streams(DIGEST.export, [source])?,
        };
        let elapsed = started.elapsed();
        Ok(finish(&instance, elapsed, result))
    }
}

fn finish(instance: &AnyInstance, elapsed: Duration, result: i64) -> Rep {
    Rep {
        elapsed,
        fills: instance.stats().fills,
        memory: instance.memory_size(),
        result,
    }
}

/// Two instances of the digest guest streaming `payload` at once on two
/// threads, against one alone: `(one, two)` in GiB/s, two being both
/// payloads over the wall time of both (one times the median ratio).
pub fn two_threads(
    engine: EngineKind,
    payload: &Bytes,
    chunk: u32,
    reps: usize,
) -> Result<(f64, f64)> {
    let module = linked(engine, DIGEST.wasm)?;
    let one_run = |module: &AnyLinkedModule| -> Result<Duration> {
        let mut instance = module.instantiate(&config(chunk))?;
        let source = BytesSource::new(payload.clone()).boxed();
        let started = Instant::now();
        instance.call_with_streams(DIGEST.export, [source])?;
        Ok(started.elapsed())
    };
    let two_runs = || -> Result<Duration> {
        // Both instances are made before the clock starts: the barrier
        // releases the two calls and the timer together.
        let start = Barrier::new(3);
        std::thread::scope(|s| {
            let work = || -> Result<()> {
                let instance = module.instantiate(&config(chunk));
                start.wait();
                instance?.call_with_streams(
                    DIGEST.export,
                    [BytesSource::new(payload.clone()).boxed()],
                )?;
                Ok(())
            };
            let (a, b) = (s.spawn(work), s.spawn(work));
            start.wait();
            let started = Instant::now();
            for handle in [a, b] {
                handle
                    .join()
                    .map_err(|_| Error::new(ErrorKind::Engine, "a streaming thread panicked"))??;
            }
            Ok(started.elapsed())
        })
    };
    let mut one = Vec::new();
    let mut two = Vec::new();
    for _ in 0..reps.max(1) {
        one.push(one_run(&module)?);
        two.push(two_runs()?);
    }
    let len = payload.len() as u64;
    let one_gib = median(
        one.iter()
            .map(|d| gib_per_s(len, d.as_secs_f64()))
            .collect(),
    );
    // The ratio is taken rep by rep (each pair ran back to back), then the
    // median: steadier than a ratio of separate medians.
    let ratio = median(
        one.iter()
            .zip(&two)
            .map(|(a, b)| 2.0 * a.as_secs_f64() / b.as_secs_f64())
            .collect(),
    );
    Ok((one_gib, one_gib * ratio))
}

/// A file streamed into the digest guest, through a `ReaderSource` (read
/// at each refill) and through a `ReadAheadSource` (read by a thread of
/// its own, ahead of the guest), and the file read alone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FileRun {
    /// The engine.
    pub engine: EngineKind,
    /// Growth of the host's peak RSS over the RSS before, through the
    /// `ReaderSource` (`None` off Linux).
    pub rss_growth_bytes: Option<u64>,
    /// Throughput in GiB/s through the `ReaderSource`, reading included.
    pub gib_per_s: f64,
    /// Growth of the host's peak RSS through the `ReadAheadSource`.
    pub read_ahead_rss_growth_bytes: Option<u64>,
    /// Throughput in GiB/s through the `ReadAheadSource` (as `refill run
    /// --input FILE` reads).
    pub read_ahead_gib_per_s: f64,
    /// The file read alone into one 256 KiB buffer, in GiB/s: what the
    /// kernel's copy out of its page cache allows.
    pub read_alone_gib_per_s: f64,
    /// The guest's linear memory afterwards.
    pub peak_memory_bytes: u64,
}

/// Streams the file at `path` into the digest guest on `engine`, through
/// each source, and measures it.
pub fn file_into_digest(engine: EngineKind, path: &Path, chunk: u32) -> Result<FileRun> {
    let module = self::engine(engine)?.compile(DIGEST.wasm)?;
    let through = |source: BoxedSource| -> Result<(f64, Option<u64>, u64)> {
        let mut instance = module.instantiate(&config(chunk))?;
        let len = source.total_len();
        let (outcome, growth) = rss::peak_growth(|| {
            let started = Instant::now();
            instance
                .call_with_streams(DIGEST.export, [source])
                .map(|_| started.elapsed())
        });
        let elapsed = outcome?;
        Ok((
            gib_per_s(len, elapsed.as_secs_f64()),
            growth,
            instance.memory_size(),
        ))
    };
    let (gib, growth, peak_memory_bytes) = through(ReaderSource::open(path)?.boxed())?;
    let (ahead_gib, ahead_growth, _) = through(ReadAheadSource::open(path)?.boxed())?;
    Ok(FileRun {
        engine,
        rss_growth_bytes: growth,
        gib_per_s: gib,
        read_ahead_rss_growth_bytes: ahead_growth,
        read_ahead_gib_per_s: ahead_gib,
        read_alone_gib_per_s: read_alone(path)?,
        peak_memory_bytes,
    })
}

/// The file at `path` read to its end into one 256 KiB buffer, in GiB/s.
fn read_alone(path: &Path) -> Result<f64> {
    use std::io::Read;
    let failed = |e: std::io::Error| {
        refill::Error::new(
            refill::ErrorKind::SourceFailed,
            format!("{}: {e}", path.display()),
        )
    };
    let mut file = std::fs::File::open(path).map_err(failed)?;
    let mut buf = vec![0u8; 256 << 10];
    let (mut len, started) = (0u64, Instant::now());
    loop {
        match file.read(&mut buf).map_err(failed)? {
            0 => break,
            n => len += n as u64,
        }
    }
    Ok(gib_per_s(len, started.elapsed().as_secs_f64()))
}
