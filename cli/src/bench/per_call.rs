//! `refill bench`'s per-call section: what a host that calls small contracts
//! constantly pays per call, per module load and per live instance (see
//! [`refill_bench::per_call`]), and the targets of each.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use indicatif::ProgressBar;
use refill::EngineKind;
use refill_bench::per_call::{self, Calls, Latency, Live, Load, Subject};

use super::{Target, size_text};
use crate::args::{BenchArgs, BenchLiveArgs};
use crate::error::{CliError, CliResult};

/// The state sizes call latency is measured at.
const STATE_SIZES: [usize; 2] = [1 << 10, 64 << 10];

/// The engines that compile ahead of time, and so have a module cache.
const COMPILING: [EngineKind; 2] = [EngineKind::Wasmtime, EngineKind::Wasmer];

/// How much of the per-call section to run, and how long.
pub(super) struct Plan {
    subjects: Vec<Subject>,
    compiling: Vec<EngineKind>,
    /// Rounds of the latency case at 1 KiB and at 64 KiB.
    rounds: [usize; 2],
    load_runs: usize,
    live: usize,
    calls_per_thread: usize,
    /// Functions in the generated module of the load case.
    module_functions: usize,
}

impl Plan {
    /// The plan for `args` (`--reps` sets every count of rounds and runs,
    /// and a tenth of it the calls per thread).
    pub(super) fn new(engines: &[EngineKind], args: &BenchArgs) -> Self {
        let quick = args.quick;
        let plan = Self {
            subjects: Subject::all(engines),
            compiling: COMPILING
                .into_iter()
                .filter(|e| engines.contains(e))
                .collect(),
            rounds: if quick { [301, 101] } else { [1001, 301] },
            load_runs: if quick { 3 } else { 5 },
            live: args.live,
            calls_per_thread: if quick { 20_000 } else { 100_000 },
            module_functions: args.module_functions,
        };
        match args.reps {
            Some(reps) => Self {
                rounds: [reps; 2],
                load_runs: reps,
                calls_per_thread: reps.saturating_mul(10),
                ..plan
            },
            None => plan,
        }
    }

    /// The cases, for the progress bar.
    pub(super) fn cases(&self) -> u64 {
        let live = if self.live > 0 { 1 } else { 0 };
        (self.subjects.len() * (STATE_SIZES.len() + live + 1) + self.compiling.len() * 2) as u64
    }
}

/// Calls per second of one subject from one thread and from two (in all),
/// on reused and on fresh instances.
struct Threads {
    subject: Subject,
    reused: (f64, f64),
    fresh: (f64, f64),
}

/// The medians of `rounds` rounds in which one thread, then two, made
/// `calls` calls each.
fn one_and_two(subject: Subject, calls: usize, how: Calls, rounds: usize) -> CliResult<(f64, f64)> {
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(per_call::calls_per_second(subject, 1, calls, how)?);
        two.push(per_call::calls_per_second(subject, 2, calls, how)?);
    }
    Ok((refill_bench::median(one), refill_bench::median(two)))
}

/// Everything the per-call section measured.
pub(super) struct PerCall {
    latency: Vec<Latency>,
    load: Vec<Load>,
    live: Vec<Live>,
    threads: Vec<Threads>,
}

impl PerCall {
    pub(super) fn measure(plan: &Plan, bar: &ProgressBar) -> CliResult<Self> {
        let mut latency = Vec::new();
        for &subject in &plan.subjects {
            for (&bytes, &rounds) in STATE_SIZES.iter().zip(&plan.rounds) {
                bar.set_message(format!(
                    "{subject} call latency, {} state",
                    size_text(bytes as u64)
                ));
                latency.push(per_call::latency(subject, bytes, rounds)?);
                bar.inc(1);
            }
        }

        let mut load = Vec::new();
        if !plan.compiling.is_empty() {
            bar.set_message("generating a module");
            let generated = per_call::generated_module(plan.module_functions)?;
            let dir = scratch_dir("cache");
            let measured = (|| -> CliResult<()> {
                for &engine in &plan.compiling {
                    for (name, wasm) in [
                        ("freenet_log", refill_fixtures::FREENET_LOG),
                        ("generated", &generated[..]),
                    ] {
                        bar.set_message(format!("{engine} {name}: compile and cache load"));
                        load.push(per_call::load(engine, name, wasm, &dir, plan.load_runs)?);
                        bar.inc(1);
                    }
                }
                Ok(())
            })();
            let _ = std::fs::remove_dir_all(&dir);
            measured?;
        }

        let mut live = Vec::new();
        if plan.live > 0 {
            for &subject in &plan.subjects {
                bar.set_message(format!("{subject}: {} live instances", plan.live));
                live.push(live_in_child(subject, plan.live)?);
                bar.inc(1);
            }
        }

        let mut threads = Vec::new();
        for &subject in &plan.subjects {
            bar.set_message(format!("{subject}: calls from one thread and from two"));
            let calls = plan.calls_per_thread;
            threads.push(Threads {
                subject,
                reused: one_and_two(subject, calls, Calls::Reused, 3)?,
                fresh: one_and_two(subject, (calls / 10).max(1), Calls::Fresh, 3)?,
            });
            bar.inc(1);
        }
        Ok(Self {
            latency,
            load,
            live,
            threads,
        })
    }

    pub(super) fn targets(&self) -> Vec<Target> {
        let mut t = Vec::new();
        for l in &self.latency {
            let v = l.ratio();
            t.push(Target {
                what: format!(
                    "{} call latency, {} state / minimal binding",
                    l.subject,
                    size_text(l.state_bytes as u64)
                ),
                value: v,
                bound: "≤ 1.20".into(),
                holds: v <= 1.2,
            });
        }
        for l in &self.load {
            let v = l.speed_up();
            t.push(Target {
                what: format!("{} {}: compile / cache load", l.engine, l.module),
                value: v,
                bound: "≥ 10".into(),
                holds: v >= 10.0,
            });
        }
        for l in &self.live {
            if let Some(beyond) = l.beyond_touched_bytes() {
                t.push(Target {
                    what: format!(
                        "{}: host RSS per live instance beyond touched guest memory (KiB)",
                        l.subject
                    ),
                    value: beyond / 1024.0,
                    bound: "≤ 64".into(),
                    holds: beyond <= 64.0 * 1024.0,
                });
            }
            if let Some(threads) = l.threads {
                t.push(Target {
                    what: format!("{}: threads with {} live instances", l.subject, l.count),
                    value: threads as f64,
                    bound: format!("< {}", l.count),
                    holds: (threads as usize) < l.count,
                });
            }
        }
        for &Threads {
            subject,
            reused: (one, two),
            ..
        } in &self.threads
        {
            if COMPILING.contains(&subject.engine) {
                let v = two / one.max(f64::MIN_POSITIVE);
                t.push(Target {
                    what: format!("{subject}: calls from two threads / one (instance per thread)"),
                    value: v,
                    bound: "≥ 1.80".into(),
                    holds: v >= 1.8,
                });
            }
        }
        t
    }

    pub(super) fn write_tables(&self, out: &mut impl Write) -> std::io::Result<()> {
        table_head(
            out,
            "Call latency: a fresh instance of the compiled digest guest per call, the state \
             streamed in, the result read (medians of rounds in which both ran once):",
            "| engine | state | refill µs | minimal µs | × minimal |",
            "|---|---:|---:|---:|---:|",
        )?;
        for l in &self.latency {
            writeln!(
                out,
                "| {} | {} | {:.1} | {:.1} | {:.2} |",
                l.subject,
                size_text(l.state_bytes as u64),
                micros(l.refill),
                micros(l.minimal),
                l.ratio()
            )?;
        }
        if !self.load.is_empty() {
            table_head(
                out,
                "Compiling against loading from the module cache (medians):",
                "| engine | module | wasm | compile ms | cache load ms | × faster |",
                "|---|---|---:|---:|---:|---:|",
            )?;
            for l in &self.load {
                writeln!(
                    out,
                    "| {} | {} | {} | {:.2} | {:.3} | {:.1} |",
                    l.engine,
                    l.module,
                    size_text(l.wasm_bytes as u64),
                    micros(l.compile) / 1e3,
                    micros(l.load) / 1e3,
                    l.speed_up()
                )?;
            }
        }
        if !self.live.is_empty() {
            table_head(
                out,
                "Live instances of freenet_log, each made and called once (summarize_state, 1 KiB), \
                 each engine in a process of its own:",
                "| engine | instances | µs each | host RSS each | guest memory touched each | threads |",
                "|---|---:|---:|---:|---:|---:|",
            )?;
            for l in &self.live {
                writeln!(
                    out,
                    "| {} | {} | {:.1} | {} | {} | {} |",
                    l.subject,
                    l.count,
                    micros(l.took) / l.count.max(1) as f64,
                    l.rss_growth_bytes
                        .map_or_else(|| "-".to_owned(), |g| size_text(g / l.count.max(1) as u64)),
                    size_text(l.touched_bytes),
                    l.threads.map_or_else(|| "-".to_owned(), |n| n.to_string()),
                )?;
            }
        }
        table_head(
            out,
            "summarize_state (1 KiB) on freenet_log from one thread and from two (calls/s in all; \
             medians of 3): on an instance per thread, and on a fresh instance per call:",
            "| engine | reused, one thread | reused, two | × one | fresh, one thread | fresh, two | × one |",
            "|---|---:|---:|---:|---:|---:|---:|",
        )?;
        let times = |(one, two): (f64, f64)| two / one.max(f64::MIN_POSITIVE);
        for t in &self.threads {
            writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {:.2} |",
                t.subject,
                t.reused.0,
                t.reused.1,
                times(t.reused),
                t.fresh.0,
                t.fresh.1,
                times(t.fresh)
            )?;
        }
        Ok(())
    }

    pub(super) fn json(&self) -> serde_json::Value {
        let latency: Vec<_> = self
            .latency
            .iter()
            .map(|l| {
                serde_json::json!({
                    "engine": l.subject.to_string(),
                    "state_bytes": l.state_bytes,
                    "refill_s": l.refill.as_secs_f64(),
                    "minimal_s": l.minimal.as_secs_f64(),
                    "ratio": l.ratio(),
                })
            })
            .collect();
        let load: Vec<_> = self
            .load
            .iter()
            .map(|l| {
                serde_json::json!({
                    "engine": l.engine.name(),
                    "module": l.module,
                    "wasm_bytes": l.wasm_bytes,
                    "compile_s": l.compile.as_secs_f64(),
                    "load_s": l.load.as_secs_f64(),
                    "speed_up": l.speed_up(),
                })
            })
            .collect();
        let live: Vec<_> = self.live.iter().map(live_json).collect();
        let threads: Vec<_> = self
            .threads
            .iter()
            .map(|t| {
                serde_json::json!({
                    "engine": t.subject.to_string(),
                    "reused_calls_per_s_one_thread": t.reused.0,
                    "reused_calls_per_s_two_threads": t.reused.1,
                    "fresh_calls_per_s_one_thread": t.fresh.0,
                    "fresh_calls_per_s_two_threads": t.fresh.1,
                })
            })
            .collect();
        serde_json::json!({
            "latency": latency,
            "load": load,
            "live": live,
            "threads": threads,
        })
    }

    /// The latency case as chart bars: `(engine and state, refill µs,
    /// minimal µs)`.
    pub(super) fn latency_bars(&self) -> Vec<(String, f64, f64)> {
        self.latency
            .iter()
            .map(|l| {
                (
                    format!("{} {}", l.subject, size_text(l.state_bytes as u64)),
                    micros(l.refill),
                    micros(l.minimal),
                )
            })
            .collect()
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn live_json(l: &Live) -> serde_json::Value {
    serde_json::json!({
        "engine": l.subject.to_string(),
        "count": l.count,
        "took_s": l.took.as_secs_f64(),
        "rss_growth_bytes": l.rss_growth_bytes,
        "touched_bytes": l.touched_bytes,
        "threads": l.threads,
    })
}

/// A directory of this process's own under the temp dir.
fn scratch_dir(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("refill-bench-{what}-{}", std::process::id()))
}

/// `refill bench-live SUBJECT COUNT`: the live case in this process, printed
/// as one JSON object. `refill bench` runs it in a child process per engine,
/// so that the RSS one engine's instances take does not count for another.
pub(crate) fn live_here(args: BenchLiveArgs) -> CliResult<()> {
    let subject = Subject::by_name(&args.subject).ok_or_else(|| {
        CliError::Usage(format!(
            "no engine is called `{}` (a subject is an engine name, or wasmer-local)",
            args.subject
        ))
    })?;
    let live = per_call::live(subject, args.count)?;
    println!("{}", live_json(&live));
    Ok(())
}

/// Runs the live case of `subject` in a child process.
fn live_in_child(subject: Subject, count: usize) -> CliResult<Live> {
    let exe = std::env::current_exe().map_err(|e| CliError::Io {
        what: "cannot find this refill executable to run the live case".into(),
        source: e,
    })?;
    let out = Command::new(exe)
        .args(["bench-live", &subject.to_string(), &count.to_string()])
        .output()
        .map_err(|e| CliError::Io {
            what: format!("cannot run the live case of {subject}"),
            source: e,
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let said = stderr.lines().last().unwrap_or("no error message");
        return Err(CliError::Usage(format!(
            "the live case of {subject} failed: {said}"
        )));
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        CliError::Usage(format!("the live case of {subject} printed no report: {e}"))
    })?;
    let number = |field: &str| json.get(field).and_then(serde_json::Value::as_u64);
    let seconds = json.get("took_s").and_then(serde_json::Value::as_f64);
    let (Some(count), Some(seconds), Some(touched_bytes)) =
        (number("count"), seconds, number("touched_bytes"))
    else {
        return Err(CliError::Usage(format!(
            "the live case of {subject} printed an incomplete report: {json}"
        )));
    };
    Ok(Live {
        subject,
        count: count as usize,
        took: Duration::from_secs_f64(seconds),
        rss_growth_bytes: number("rss_growth_bytes"),
        touched_bytes,
        threads: number("threads"),
    })
}

/// A table's caption (after a blank line), a blank line, its header and its
/// alignment row.
fn table_head(
    out: &mut impl Write,
    caption: &str,
    header: &str,
    align: &str,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(out, "{caption}")?;
    writeln!(out)?;
    writeln!(out, "{header}")?;
    writeln!(out, "{align}")
}
