//! `refill bench`: the benchmark matrix, its ratios and the targets.

pub(crate) mod per_call;

use std::io::Write as _;
use std::path::Path;

use bytesize::ByteSize;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use refill::{EngineKind, Result};
use refill_bench::fan_in::{FanIn, FanInPlan, fan_in};
use refill_bench::round_trip::{FileTrip, RoundTrip, file_round_trip, round_trip};
use refill_bench::{FileRun, Measurement, Workload, chart, payload, run, workload};

use self::per_call::PerCall;
use crate::args::{BenchArgs, BenchPart};
use crate::error::{CliError, CliResult};

/// The payload and chunk the targets are stated at.
const TARGET_LEN: u64 = 64 << 20;
const TARGET_CHUNK: u32 = 64 << 10;

pub(crate) fn bench(args: BenchArgs) -> CliResult<()> {
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: this refill is a debug build, so its figures say little; \
             run `cargo run --release -p refill-cli -- bench`"
        );
    }
    let engines: Vec<EngineKind> = match &args.engines {
        Some(list) => list.clone(),
        None => EngineKind::compiled().collect(),
    };
    let throughput = args
        .parts
        .contains(&BenchPart::Throughput)
        .then(|| ThroughputPlan::new(&args, &engines))
        .transpose()?;
    let per_call = args
        .parts
        .contains(&BenchPart::PerCall)
        .then(|| per_call::Plan::new(&engines, &args));
    let bar = progress(
        throughput.as_ref().map_or(0, ThroughputPlan::cases)
            + per_call.as_ref().map_or(0, per_call::Plan::cases),
    );
    let mut report = match &throughput {
        Some(plan) => plan.measure(&bar)?,
        None => Report::default(),
    };
    if let Some(plan) = &per_call {
        report.per_call = Some(PerCall::measure(plan, &bar)?);
    }
    bar.finish_and_clear();

    let out = &mut std::io::stdout().lock();
    let written = if args.json {
        report.write_json(out)
    } else {
        write_table(out, &report.rows).and_then(|()| report.write_targets(out))
    };
    written.map_err(|e| CliError::Io {
        what: "cannot write the report".into(),
        source: e,
    })?;
    if let Some(path) = &args.chart {
        let sizes = throughput.as_ref().map_or(&[][..], |p| &p.sizes[..]);
        let len = if sizes.contains(&TARGET_LEN) {
            TARGET_LEN
        } else {
            sizes.iter().copied().max().unwrap_or(TARGET_LEN)
        };
        chart::write_svg(path, len, &report.rows).map_err(CliError::Usage)?;
        eprintln!("chart written to {}", path.display());
    }
    if let Some(path) = &args.latency_chart {
        let bars = report
            .per_call
            .as_ref()
            .map(PerCall::latency_bars)
            .unwrap_or_default();
        chart::write_latency_svg(path, &bars).map_err(CliError::Usage)?;
        eprintln!("latency chart written to {}", path.display());
    }
    Ok(())
}

/// The throughput part: which sizes, chunks, engines and workloads.
struct ThroughputPlan {
    sizes: Vec<u64>,
    chunks: Vec<u32>,
    engines: Vec<EngineKind>,
    workloads: Vec<Workload>,
    reps: Option<usize>,
    rounds: usize,
    file_len: u64,
}

impl ThroughputPlan {
    fn new(args: &BenchArgs, engines: &[EngineKind]) -> CliResult<Self> {
        let (sizes, chunks) = if args.quick {
            (vec![1 << 20, TARGET_LEN], vec![u64::from(TARGET_CHUNK)])
        } else {
            (args.sizes.clone(), args.chunks.clone())
        };
        let chunks = chunks
            .iter()
            .map(|&c| crate::inputs::chunk_size(c, &refill::Limits::default()))
            .collect::<CliResult<Vec<u32>>>()?;
        Ok(Self {
            sizes,
            chunks,
            engines: engines.to_vec(),
            workloads: Workload::ALL.to_vec(),
            reps: args.reps,
            rounds: args.reps.unwrap_or(if args.quick { 9 } else { 15 }),
            file_len: if args.quick {
                TARGET_LEN
            } else {
                args.file_size
            },
        })
    }

    /// The cases, for the progress bar.
    fn cases(&self) -> u64 {
        let grid = self.sizes.len() * self.chunks.len();
        (grid * (self.workloads.len() - 1) * self.engines.len() + grid) as u64
    }

    fn measure(&self, bar: &ProgressBar) -> CliResult<Report> {
        let mut rows: Vec<Measurement> = Vec::new();
        for &size in &self.sizes {
            let data = payload(size);
            let reps = self.reps.unwrap_or_else(|| default_reps(size));
            for &chunk in &self.chunks {
                for &w in &self.workloads {
                    let on: Vec<Option<EngineKind>> = if w.needs_engine() {
                        self.engines.iter().copied().map(Some).collect()
                    } else {
                        vec![None]
                    };
                    for engine in on {
                        bar.set_message(format!(
                            "{} {w} {} in {}",
                            engine.map_or("host", |e| e.name()),
                            size_text(size),
                            size_text(u64::from(chunk))
                        ));
                        rows.push(run(engine, w, &data, chunk, reps)?);
                        bar.inc(1);
                    }
                }
            }
        }
        bar.set_message("target ratios, round by round");
        let paired = Paired::measure(&self.engines, self.rounds)?;
        bar.set_message("two threads");
        let scaling = {
            let data = payload(TARGET_LEN);
            self.engines
                .iter()
                .map(|&e| {
                    Ok((
                        e,
                        workload::two_threads(e, &data, TARGET_CHUNK, self.rounds)?,
                    ))
                })
                .collect::<Result<Vec<_>>>()?
        };
        bar.set_message("round trips: streamed out against collected whole");
        let round_trips = {
            let (small, large) = (payload(1 << 20), payload(TARGET_LEN));
            let mut trips = Vec::new();
            for &e in &self.engines {
                for data in [&small, &large] {
                    trips.push(round_trip(e, data, TARGET_CHUNK, self.rounds)?);
                }
            }
            trips
        };
        bar.set_message("async fan-in: 100 instances on a two-thread runtime");
        let fan_ins = self
            .engines
            .iter()
            .map(|&e| fan_in(e, FanInPlan::TARGET))
            .collect::<Result<Vec<_>>>()?;
        bar.set_message("a file through a ReaderSource, and a file round trip");
        let files = if self.file_len > 0 {
            file_runs(self.file_len, &self.engines)?
        } else {
            FileRuns::default()
        };
        Ok(Report {
            rows,
            paired: Some(paired),
            scaling,
            file_rss: files.digests,
            file_trips: files.trips,
            round_trips,
            fan_ins,
            per_call: None,
        })
    }
}

/// Enough repetitions for a stable median: 20 at 1 MiB, 16 at 64 MiB, 3
/// at 1 GiB.
fn default_reps(size: u64) -> usize {
    ((1u64 << 30) / size.max(1)).clamp(3, 20) as usize
}

fn progress(len: u64) -> ProgressBar {
    let target = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{pos}/{len} [{bar:30}] {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn size_text(bytes: u64) -> String {
    ByteSize::b(bytes).display().iec_short().to_string()
}

/// The row of `workload` on `engine` at the same size and chunk as `m`.
fn peer<'a>(
    rows: &'a [Measurement],
    m: &Measurement,
    engine: Option<EngineKind>,
    workload: Workload,
) -> Option<&'a Measurement> {
    rows.iter().find(|r| {
        r.engine == engine
            && r.workload == workload
            && r.payload_bytes == m.payload_bytes
            && r.chunk == m.chunk
    })
}

fn ratio(m: &Measurement, of: Option<&Measurement>) -> Option<f64> {
    of.filter(|o| o.gib_per_s() > 0.0)
        .map(|o| m.gib_per_s() / o.gib_per_s())
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

fn write_table(out: &mut impl std::io::Write, rows: &[Measurement]) -> std::io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "| engine | workload | payload | chunk | GiB/s | × native | × whole copy | × minimal | fills | guest memory | host RSS growth |"
    )?;
    writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for m in rows {
        let native = ratio(m, peer(rows, m, None, Workload::Native));
        let whole = ratio(m, peer(rows, m, m.engine, Workload::WholeCopy));
        let minimal = match m.workload {
            Workload::Digest => ratio(m, peer(rows, m, m.engine, Workload::Minimal)),
            Workload::Skip => ratio(m, peer(rows, m, m.engine, Workload::MinimalSkip)),
            _ => None,
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {:.2} | {} | {} | {} | {} | {} | {} |",
            m.engine.map_or("host", |e| e.name()),
            m.workload,
            size_text(m.payload_bytes),
            size_text(u64::from(m.chunk)),
            m.gib_per_s(),
            cell(native),
            cell(whole),
            cell(minimal),
            m.fills,
            if m.peak_memory_bytes > 0 {
                size_text(m.peak_memory_bytes)
            } else {
                "-".to_owned()
            },
            m.rss_growth_bytes.map_or_else(|| "-".to_owned(), size_text),
        )?;
    }
    Ok(())
}

/// The row of `workload` on `engine` at the targets' size and chunk.
fn at_target(
    rows: &[Measurement],
    engine: Option<EngineKind>,
    workload: Workload,
) -> Option<&Measurement> {
    rows.iter().find(|r| {
        r.engine == engine
            && r.workload == workload
            && r.payload_bytes == TARGET_LEN
            && r.chunk == TARGET_CHUNK
    })
}

/// The cases the throughput targets compare, run round by round at the
/// targets' size and chunk (see [`refill_bench::rounds`]).
struct Paired {
    cases: Vec<(Option<EngineKind>, Workload)>,
    seconds: Vec<Vec<f64>>,
    rounds: usize,
}

impl Paired {
    fn measure(engines: &[EngineKind], rounds: usize) -> Result<Self> {
        let mut cases = vec![(None, Workload::Native)];
        for &e in engines {
            for w in [
                Workload::Digest,
                Workload::Minimal,
                Workload::Skip,
                Workload::MinimalSkip,
            ] {
                cases.push((Some(e), w));
            }
            if e != EngineKind::Wasmi {
                cases.push((Some(e), Workload::WholeCopy));
            }
        }
        let data = payload(TARGET_LEN);
        let seconds = refill_bench::rounds(&cases, &data, TARGET_CHUNK, rounds)?;
        Ok(Self {
            cases,
            seconds,
            rounds,
        })
    }

    /// How many times faster `a` ran than `b`: the median over rounds.
    fn ratio(
        &self,
        a: (Option<EngineKind>, Workload),
        b: (Option<EngineKind>, Workload),
    ) -> Option<f64> {
        let times = |case| {
            self.cases
                .iter()
                .position(|c| *c == case)
                .map(|i| &self.seconds[i])
        };
        let (ta, tb) = (times(a)?, times(b)?);
        Some(refill_bench::median(
            ta.iter().zip(tb).map(|(a, b)| b / a).collect(),
        ))
    }
}

/// One target: what, the measured value, the bound, and whether it holds.
struct Target {
    what: String,
    value: f64,
    bound: String,
    holds: bool,
}

/// Everything one `refill bench` measured.
#[derive(Default)]
struct Report {
    rows: Vec<Measurement>,
    paired: Option<Paired>,
    /// Per engine: one instance alone, two on two threads, in GiB/s.
    scaling: Vec<(EngineKind, (f64, f64))>,
    file_rss: Vec<FileRun>,
    /// Per engine: a file in and a file out, at 1 MiB and the file size.
    file_trips: Vec<FileTrip>,
    /// Per engine, at 1 MiB and at the targets' size.
    round_trips: Vec<RoundTrip>,
    /// Per engine: async calls from paced sources, many against one.
    fan_ins: Vec<FanIn>,
    per_call: Option<PerCall>,
}

impl Report {
    fn targets(&self) -> Vec<Target> {
        let (rows, paired, scaling, file_rss) =
            (&self.rows[..], &self.paired, &self.scaling, &self.file_rss);
        let mut t = Vec::new();
        let both = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
        let faster = |a, b| paired.as_ref().and_then(|p| p.ratio(a, b));
        if let Some(v) = faster(
            (Some(EngineKind::Wasmtime), Workload::Digest),
            (None, Workload::Native),
        ) {
            t.push(Target {
                what: "wasmtime digest / native loop".into(),
                value: v,
                bound: "≥ 0.90".into(),
                holds: v >= 0.9,
            });
        }
        for e in EngineKind::compiled() {
            for (guest, ours, theirs) in [
                ("digest", Workload::Digest, Workload::Minimal),
                ("skip", Workload::Skip, Workload::MinimalSkip),
            ] {
                if let Some(v) = faster((Some(e), ours), (Some(e), theirs)) {
                    t.push(Target {
                        what: format!("{e} refill {guest} / minimal binding"),
                        value: v,
                        bound: "≥ 0.95".into(),
                        holds: v >= 0.95,
                    });
                }
            }
        }
        for e in [EngineKind::Wasmtime, EngineKind::Wasmer] {
            if let Some(v) = faster((Some(e), Workload::Digest), (Some(e), Workload::WholeCopy)) {
                t.push(Target {
                    what: format!("{e} streaming digest / whole copy"),
                    value: v,
                    bound: "≥ 3.00".into(),
                    holds: v >= 3.0,
                });
            }
            let memory = |w| at_target(rows, Some(e), w).map(|m| m.peak_memory_bytes as f64);
            if let Some(v) = both(memory(Workload::Digest), memory(Workload::WholeCopy)) {
                t.push(Target {
                    what: format!("{e} streaming / whole-copy guest memory"),
                    value: v,
                    bound: "≤ 0.01".into(),
                    holds: v <= 0.01,
                });
            }
        }
        if let Some(v) = faster(
            (Some(EngineKind::Wasmi), Workload::Skip),
            (Some(EngineKind::Wasmtime), Workload::Skip),
        ) {
            t.push(Target {
                what: "wasmi skip / wasmtime skip".into(),
                value: v,
                bound: "≥ 0.80".into(),
                holds: v >= 0.8,
            });
        }
        // Guest memory from the smallest to the largest payload, and
        // throughput from the targets' payload to the largest (small payloads
        // pay a fixed cost per call, see docs/benchmarks.md).
        let sizes: Vec<u64> = {
            let mut v: Vec<u64> = rows.iter().map(|m| m.payload_bytes).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        let digest_at = |e, len| {
            rows.iter().find(|m| {
                m.engine == Some(e)
                    && m.workload == Workload::Digest
                    && m.payload_bytes == len
                    && m.chunk == TARGET_CHUNK
            })
        };
        if let (Some(&lo), Some(&hi)) = (sizes.first(), sizes.last()) {
            for e in EngineKind::compiled() {
                if let Some((a, b)) = digest_at(e, lo).zip(digest_at(e, hi)).filter(|_| lo < hi) {
                    t.push(Target {
                        what: format!(
                            "{e} digest guest memory, {} / {}",
                            size_text(hi),
                            size_text(lo)
                        ),
                        value: b.peak_memory_bytes as f64 / a.peak_memory_bytes.max(1) as f64,
                        bound: "= 1.00".into(),
                        holds: a.peak_memory_bytes == b.peak_memory_bytes,
                    });
                }
                if let Some((a, b)) = digest_at(e, TARGET_LEN)
                    .zip(digest_at(e, hi))
                    .filter(|_| TARGET_LEN < hi)
                {
                    let v = b.gib_per_s() / a.gib_per_s();
                    t.push(Target {
                        what: format!(
                            "{e} digest throughput, {} / {}",
                            size_text(hi),
                            size_text(TARGET_LEN)
                        ),
                        value: v,
                        bound: "0.80 – 1.25 (flat)".into(),
                        holds: (0.8..=1.25).contains(&v),
                    });
                }
            }
        }
        for (e, (one, two)) in scaling {
            t.push(Target {
                what: format!("{e} two instances on two threads / one"),
                value: two / one,
                bound: "≈ 2".into(),
                holds: two / one >= 1.6,
            });
        }
        for run in file_rss {
            for (how, growth) in [
                ("", run.rss_growth_bytes),
                (" read ahead", run.read_ahead_rss_growth_bytes),
            ] {
                if let Some(growth) = growth {
                    t.push(Target {
                        what: format!(
                            "{} host RSS growth streaming the file{how} (MiB)",
                            run.engine
                        ),
                        value: growth as f64 / f64::from(1u32 << 20),
                        bound: "≤ 8".into(),
                        holds: growth <= 8 << 20,
                    });
                }
            }
        }
        for trip in self.file_trips.iter().filter(|f| f.len > 1 << 20) {
            if let Some(growth) = trip.rss_growth_bytes {
                t.push(Target {
                    what: format!(
                        "{} host RSS growth, a {} file in and out (MiB)",
                        trip.engine,
                        size_text(trip.len)
                    ),
                    value: growth as f64 / f64::from(1u32 << 20),
                    bound: "≤ 16".into(),
                    holds: growth <= 16 << 20,
                });
            }
            if let Some(small) = self
                .file_trips
                .iter()
                .find(|f| f.engine == trip.engine && f.len == 1 << 20)
            {
                t.push(Target {
                    what: format!(
                        "{} file round trip guest memory, {} / 1.0M",
                        trip.engine,
                        size_text(trip.len)
                    ),
                    value: trip.guest_memory as f64 / small.guest_memory.max(1) as f64,
                    bound: "= 1.00".into(),
                    holds: trip.guest_memory == small.guest_memory,
                });
            }
        }
        // The CLI's path (`refill run --input FILE` reads ahead) against the
        // minimal binding with the payload in memory.
        for run in file_rss {
            if let Some(minimal) = at_target(rows, Some(run.engine), Workload::Minimal)
                .filter(|_| run.engine == EngineKind::Wasmtime)
            {
                let v = run.read_ahead_gib_per_s / minimal.gib_per_s();
                t.push(Target {
                    what: format!(
                        "{} file read ahead (the CLI's path) / minimal binding in memory",
                        run.engine
                    ),
                    value: v,
                    bound: "≥ 0.80".into(),
                    holds: v >= 0.8,
                });
            }
        }
        for trip in self.round_trips.iter().filter(|r| r.len == TARGET_LEN) {
            if matches!(trip.engine, EngineKind::Wasmtime | EngineKind::Wasmer) {
                let v = trip.speed_up();
                t.push(Target {
                    what: format!("{} round trip: streamed out / collected whole", trip.engine),
                    value: v,
                    bound: "≥ 3.00".into(),
                    holds: v >= 3.0,
                });
            }
            if let Some(small) = self
                .round_trips
                .iter()
                .find(|r| r.engine == trip.engine && r.len < trip.len)
            {
                t.push(Target {
                    what: format!(
                        "{} round trip guest memory, {} / {}",
                        trip.engine,
                        size_text(trip.len),
                        size_text(small.len)
                    ),
                    value: trip.streamed_memory as f64 / small.streamed_memory.max(1) as f64,
                    bound: "= 1.00".into(),
                    holds: trip.streamed_memory == small.streamed_memory,
                });
            }
        }
        for f in &self.fan_ins {
            let v = f.ratio();
            t.push(Target {
                what: format!(
                    "{} async fan-in: {} instances / one",
                    f.engine, f.plan.instances
                ),
                value: v,
                bound: "≤ 2.00".into(),
                holds: v <= 2.0,
            });
        }
        if let Some(per_call) = &self.per_call {
            t.extend(per_call.targets());
        }
        t
    }

    fn write_targets(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let (scaling, file_rss) = (&self.scaling, &self.file_rss);
        if let Some(per_call) = &self.per_call {
            per_call.write_tables(out)?;
        }
        writeln!(out)?;
        match &self.paired {
            Some(paired) => writeln!(
                out,
                "Targets ({} payload in {} chunks unless named; throughput ratios are medians \
                 of {} rounds in which every case ran once, back to back):",
                size_text(TARGET_LEN),
                size_text(u64::from(TARGET_CHUNK)),
                paired.rounds
            )?,
            None => writeln!(out, "Targets:")?,
        }
        writeln!(out)?;
        writeln!(out, "| target | measured | bound | |")?;
        writeln!(out, "|---|---:|---|---|")?;
        for t in self.targets() {
            writeln!(
                out,
                "| {} | {:.3} | {} | {} |",
                t.what,
                t.value,
                t.bound,
                if t.holds { "met" } else { "MISSED" }
            )?;
        }
        for (e, (one, two)) in scaling {
            writeln!(
                out,
                "\n{e}: one instance {one:.2} GiB/s, two on two threads {two:.2} GiB/s in all"
            )?;
        }
        for trip in &self.round_trips {
            writeln!(
                out,
                "{}: round trip of {}: streamed out {:.2} GiB/s (guest memory {}), collected whole \
                 {:.2} GiB/s (guest memory {})",
                trip.engine,
                size_text(trip.len),
                refill_bench::workload::gib_per_s(trip.len, trip.streamed.as_secs_f64()),
                size_text(trip.streamed_memory),
                refill_bench::workload::gib_per_s(trip.len, trip.whole.as_secs_f64()),
                size_text(trip.whole_memory),
            )?;
        }
        for f in &self.fan_ins {
            writeln!(
                out,
                "{}: async fan-in, {} chunks of {} each after {} ms: one instance {:.1} ms, {} at \
                 once {:.1} ms",
                f.engine,
                f.plan.chunks,
                size_text(u64::from(f.plan.chunk)),
                refill_bench::fan_in::CHUNK_DELAY.as_millis(),
                f.one.as_secs_f64() * 1e3,
                f.plan.instances,
                f.many.as_secs_f64() * 1e3,
            )?;
        }
        for run in file_rss {
            let grew =
                |growth: Option<u64>| growth.map_or_else(|| "(not measured)".to_owned(), size_text);
            writeln!(
                out,
                "{}: file streamed at {:.2} GiB/s (host peak RSS grew {}), read ahead at {:.2} GiB/s \
                 (grew {}), the file read alone at {:.2} GiB/s; guest memory {}",
                run.engine,
                run.gib_per_s,
                grew(run.rss_growth_bytes),
                run.read_ahead_gib_per_s,
                grew(run.read_ahead_rss_growth_bytes),
                run.read_alone_gib_per_s,
                size_text(run.peak_memory_bytes)
            )?;
        }
        for trip in &self.file_trips {
            writeln!(
                out,
                "{}: a {} file in and a file out through xor at {:.2} GiB/s, checked byte for byte \
                 (host peak RSS grew {}); guest memory {}",
                trip.engine,
                size_text(trip.len),
                trip.gib_per_s,
                trip.rss_growth_bytes
                    .map_or_else(|| "(not measured)".to_owned(), size_text),
                size_text(trip.guest_memory)
            )?;
        }
        Ok(())
    }

    fn write_json(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let measurements: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|m| {
                serde_json::json!({
                    "engine": m.engine.map(|e| e.name()),
                    "workload": m.workload.name(),
                    "payload_bytes": m.payload_bytes,
                    "chunk": m.chunk,
                    "seconds": m.seconds,
                    "gib_per_s": m.gib_per_s(),
                    "fills": m.fills,
                    "peak_memory_bytes": m.peak_memory_bytes,
                    "rss_growth_bytes": m.rss_growth_bytes,
                })
            })
            .collect();
        let targets: Vec<serde_json::Value> = self
            .targets()
            .into_iter()
            .map(|t| serde_json::json!({ "target": t.what, "value": t.value, "met": t.holds }))
            .collect();
        let round_trips: Vec<serde_json::Value> = self
            .round_trips
            .iter()
            .map(|r| {
                serde_json::json!({
                    "engine": r.engine.name(),
                    "payload_bytes": r.len,
                    "streamed_s": r.streamed.as_secs_f64(),
                    "whole_s": r.whole.as_secs_f64(),
                    "streamed_memory_bytes": r.streamed_memory,
                    "whole_memory_bytes": r.whole_memory,
                })
            })
            .collect();
        let file_trips: Vec<serde_json::Value> = self
            .file_trips
            .iter()
            .map(|f| {
                serde_json::json!({
                    "engine": f.engine.name(),
                    "payload_bytes": f.len,
                    "gib_per_s": f.gib_per_s,
                    "rss_growth_bytes": f.rss_growth_bytes,
                    "guest_memory_bytes": f.guest_memory,
                })
            })
            .collect();
        let fan_ins: Vec<serde_json::Value> = self
            .fan_ins
            .iter()
            .map(|f| {
                serde_json::json!({
                    "engine": f.engine.name(),
                    "instances": f.plan.instances,
                    "chunks": f.plan.chunks,
                    "chunk": f.plan.chunk,
                    "one_s": f.one.as_secs_f64(),
                    "many_s": f.many.as_secs_f64(),
                })
            })
            .collect();
        let per_call = self.per_call.as_ref().map(PerCall::json);
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "measurements": measurements,
                "round_trips": round_trips,
                "fan_ins": fan_ins,
                "file_trips": file_trips,
                "per_call": per_call,
                "targets": targets,
            })
        )
    }
}

/// What the file part measured: the digest of a file through each source,
/// and round trips of a file in and a file out.
#[derive(Default)]
struct FileRuns {
    digests: Vec<FileRun>,
    /// Per engine: 1 MiB, then `len`.
    trips: Vec<FileTrip>,
}

/// Writes a generated file of `len` bytes (and one of 1 MiB) to the temp
/// dir, streams it into the digest guest on each engine, and through the
/// xor guest into a file out; removes them.
fn file_runs(len: u64, engines: &[EngineKind]) -> CliResult<FileRuns> {
    let dir = std::env::temp_dir();
    let named = |what: &str| dir.join(format!("refill-bench-{}.{what}", std::process::id()));
    let (big, small, out) = (named("state"), named("small"), named("out"));
    write_generated(&big, len)?;
    let written = write_generated(&small, 1 << 20);
    let measured = written.and_then(|()| {
        let mut runs = FileRuns::default();
        for &e in engines {
            runs.digests
                .push(workload::file_into_digest(e, &big, TARGET_CHUNK)?);
            for input in [&small, &big] {
                runs.trips
                    .push(file_round_trip(e, input, FILE_SEED, &out, TARGET_CHUNK)?);
            }
        }
        Ok(runs)
    });
    for path in [&big, &small, &out] {
        let _ = std::fs::remove_file(path);
    }
    measured
}

/// The seed of the bench files' generated bytes.
const FILE_SEED: u64 = 9;

/// Writes `len` generated bytes of [`FILE_SEED`] to `path`.
fn write_generated(path: &Path, len: u64) -> CliResult<()> {
    let written = (|| -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(buf.len() as u64) as usize;
            refill_testkit::fill_generated(FILE_SEED, at, &mut buf[..n]);
            file.write_all(&buf[..n])?;
            at += n as u64;
        }
        file.flush()
    })();
    written.map_err(|e| CliError::Io {
        what: format!("cannot write {}", path.display()),
        source: e,
    })
}
