//! What an instance costs on wasmer, local (`instantiate_local`: the store on
//! the caller's thread) and pooled (`instantiate`: a `Send` handle to a
//! store kept by one of the engine's worker threads), next to wasmtime and
//! wasmi and the minimal hand-written wasmer binding.
//!
//! ```sh
//! cargo run -p refill-bench --release --example wasmer_instances -- latency
//! cargo run -p refill-bench --release --example wasmer_instances -- live wasmer-pooled 10000
//! cargo run -p refill-bench --release --example wasmer_instances -- scaling
//! ```
//!
//! `live MODE N` makes N instances of the freenet_log contract one after
//! another, each kept alive and called once (`summarize_state` of a 1 KiB
//! state), and reports the time and the host RSS per instance; run it once
//! per mode (wasmi, wasmtime, wasmer-pooled, wasmer-local), each in a fresh
//! process, so that one mode's memory does not count against another.

use std::time::{Duration, Instant};

use bytes::Bytes;
use refill::freenet::{Contract, FreenetHost, Protocol};
use refill::{
    AnyEngine, AnyLinkedModule, BytesSource, Engine, EngineKind, Instance, InstanceConfig,
    InstanceExt, IntoBoxedSource, LinkedModule, Module,
};
use refill_bench::minimal::wasmer::Binding;
use refill_bench::rss;

fn main() -> refill::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("latency") | None => latency(),
        Some("live") => {
            let mode = args.get(1).map_or("wasmer-pooled", String::as_str);
            let count = args.get(2).map_or(10_000, |n| n.parse().expect("a count"));
            live(mode, count)
        }
        Some("scaling") => scaling(),
        Some(other) => panic!("unknown command `{other}`: latency, live MODE N or scaling"),
    }
}

/// The freenet_log contract linked against freenet's host functions.
fn freenet_log(kind: EngineKind) -> refill::Result<AnyLinkedModule> {
    let module = AnyEngine::new(kind)?.compile(refill_fixtures::FREENET_LOG)?;
    module.link(&FreenetHost::new().host_functions())
}

/// `summarize_state` of a 1 KiB state: the call every measure below makes.
fn summarize<I: Instance>(contract: &mut Contract<I>) {
    let params = BytesSource::new(Vec::new()).boxed();
    let state = BytesSource::new(vec![7u8; 1024]).boxed();
    let result = contract.summarize_state(params, state).expect("summarize");
    result.into_ok().expect("a summary");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Instantiation and call latency, per engine and wasmer mode; and the
/// minimal binding's round (instantiate, stream, call, read) next to
/// refill's, at 1 KiB and 64 KiB.
fn latency() -> refill::Result<()> {
    const ROUNDS: usize = 2_000;
    println!(
        "freenet_log, medians of {ROUNDS}: instantiate (then dropped) / summarize 1 KiB on a live instance"
    );
    for (name, kind, local) in [
        ("wasmtime", EngineKind::Wasmtime, false),
        ("wasmi", EngineKind::Wasmi, false),
        ("wasmer local", EngineKind::Wasmer, true),
        ("wasmer pooled", EngineKind::Wasmer, false),
    ] {
        let linked = freenet_log(kind)?;
        let config = InstanceConfig::new();
        let (instantiate, call) = if local {
            measure(ROUNDS, || linked.instantiate_local(&config))
        } else {
            measure(ROUNDS, || linked.instantiate(&config))
        };
        println!("  {name:<14} {instantiate:>10.2?} / {call:>10.2?}");
    }

    println!(
        "digest guest, medians of {ROUNDS}: instantiate + stream + call + read, fresh instance each"
    );
    let minimal = Binding::new(refill_fixtures::DIGEST.wasm, "digest").expect("compiles");
    for size in [1usize << 10, 64 << 10] {
        let payload = Bytes::from(vec![3u8; size]);
        let minimal_round = median(
            (0..ROUNDS)
                .map(|_| {
                    let started = Instant::now();
                    let run = minimal.digest(payload.clone(), 64 << 10).expect("digest");
                    std::hint::black_box(run.result);
                    started.elapsed()
                })
                .collect(),
        );
        println!("  {size:>6} B  minimal wasmer binding {minimal_round:>10.2?}");
        for (name, kind, local) in [
            ("wasmtime", EngineKind::Wasmtime, false),
            ("wasmer local", EngineKind::Wasmer, true),
            ("wasmer pooled", EngineKind::Wasmer, false),
        ] {
            let module = AnyEngine::new(kind)?.compile(refill_fixtures::DIGEST.wasm)?;
            let linked = module.link(&refill::HostFunctions::new())?;
            let config = InstanceConfig::new();
            let round = |instance: &mut dyn Instance| {
                let source = BytesSource::new(payload.to_vec()).boxed();
                instance
                    .call_with_streams("digest", [source])
                    .expect("digest")
            };
            let took = median(
                (0..ROUNDS)
                    .map(|_| {
                        let started = Instant::now();
                        if local {
                            round(&mut linked.instantiate_local(&config).expect("instance"));
                        } else {
                            round(&mut linked.instantiate(&config).expect("instance"));
                        }
                        started.elapsed()
                    })
                    .collect(),
            );
            println!(
                "  {size:>6} B  refill {name:<14} {took:>10.2?} ({:.2} x minimal)",
                took.as_secs_f64() / minimal_round.as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Median instantiation (then drop) and median summarize on one live
/// instance, for instances made by `make`.
fn measure<I: Instance>(
    rounds: usize,
    make: impl Fn() -> refill::Result<I>,
) -> (Duration, Duration) {
    let instantiate = median(
        (0..rounds)
            .map(|_| {
                let started = Instant::now();
                let instance = make().expect("instance");
                let took = started.elapsed();
                drop(instance);
                took
            })
            .collect(),
    );
    let mut contract = Contract::from_instance(make().expect("instance"), Protocol::Streaming);
    summarize(&mut contract);
    let samples: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            summarize(&mut contract);
            started.elapsed()
        })
        .collect();
    let call = median(samples);
    (instantiate, call)
}

/// `count` live instances of freenet_log, made one after another and each
/// called once.
fn live(mode: &str, count: usize) -> refill::Result<()> {
    let kind = match mode {
        "wasmi" => EngineKind::Wasmi,
        "wasmtime" => EngineKind::Wasmtime,
        "wasmer-pooled" | "wasmer-local" => EngineKind::Wasmer,
        other => panic!("unknown mode `{other}`"),
    };
    let linked = freenet_log(kind)?;
    let config = InstanceConfig::new();
    // One instance first, so that what is made once per process (code,
    // the first worker, signal handlers) does not count per instance.
    let mut warm = Contract::from_instance(linked.instantiate(&config)?, Protocol::Streaming);
    summarize(&mut warm);
    // A lower bound of the guest memory an instance has touched: its pages
    // that are not all zeros after the call (every instance does the same).
    let size = warm.instance().memory_size();
    let memory = warm.instance().read_memory(0, size)?;
    let touched = memory
        .chunks(4096)
        .filter(|page| page.iter().any(|&b| b != 0))
        .count()
        * 4096;
    let before = rss::current_bytes().unwrap_or(0);
    let started = Instant::now();
    let mut pooled = Vec::new();
    let mut local = Vec::new();
    for made in 0..count {
        let failed = if mode == "wasmer-local" {
            linked.instantiate_local(&config).map(|instance| {
                let mut contract = Contract::from_instance(instance, Protocol::Streaming);
                summarize(&mut contract);
                local.push(contract);
            })
        } else {
            linked.instantiate(&config).map(|instance| {
                let mut contract = Contract::from_instance(instance, Protocol::Streaming);
                summarize(&mut contract);
                pooled.push(contract);
            })
        };
        if let Err(e) = failed {
            println!("{mode}: instance {made} failed: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                println!("  caused by: {cause}");
                source = cause.source();
            }
            return Ok(());
        }
    }
    let took = started.elapsed();
    let after = rss::current_bytes().unwrap_or(0);
    let threads = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))
                .map(|l| l[8..].trim().to_owned())
        })
        .unwrap_or_default();
    let maps = std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count());
    let each = after.saturating_sub(before) as f64 / 1024.0 / count as f64;
    println!(
        "{mode}: {count} live instances in {took:.2?} ({:.1?} each), RSS +{:.1} MiB ({each:.1} KiB each), \
         {threads} threads, {maps} mappings; guest memory touched >= {} KiB of {} KiB, \
         so <= {:.1} KiB each beyond it",
        took / count as u32,
        after.saturating_sub(before) as f64 / (1 << 20) as f64,
        touched / 1024,
        size / 1024,
        each - touched as f64 / 1024.0,
    );
    Ok(())
}

/// Calls per second on pooled wasmer instances (and, for comparison, local
/// ones and wasmtime's) from one thread and from two, each thread calling an
/// instance of its own.
fn scaling() -> refill::Result<()> {
    const CALLS: usize = 4_000;
    println!("summarize 1 KiB, {CALLS} calls per thread, each thread its own instance:");
    for (name, kind, local) in [
        ("wasmtime", EngineKind::Wasmtime, false),
        ("wasmer local", EngineKind::Wasmer, true),
        ("wasmer pooled", EngineKind::Wasmer, false),
    ] {
        let linked = freenet_log(kind)?;
        let rate = |threads: usize| -> f64 {
            let started = Instant::now();
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    let linked = &linked;
                    scope.spawn(move || {
                        let config = InstanceConfig::new();
                        if local {
                            let instance = linked.instantiate_local(&config).expect("instance");
                            let mut contract =
                                Contract::from_instance(instance, Protocol::Streaming);
                            (0..CALLS).for_each(|_| summarize(&mut contract));
                        } else {
                            let instance = linked.instantiate(&config).expect("instance");
                            let mut contract =
                                Contract::from_instance(instance, Protocol::Streaming);
                            (0..CALLS).for_each(|_| summarize(&mut contract));
                        }
                    });
                }
            });
            (threads * CALLS) as f64 / started.elapsed().as_secs_f64()
        };
        // Once to warm up (a worker started, code paged in).
        rate(1);
        let (one, two) = (rate(1), rate(2));
        println!(
            "  {name:<14} 1 thread {one:>9.0}/s, 2 threads {two:>9.0}/s: {:.2} x",
            two / one
        );
    }
    Ok(())
}
