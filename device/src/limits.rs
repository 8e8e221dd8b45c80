//! Limits and small memories: fuel, the memory limit, and a guest with
//! 1-byte pages that streams 1 MiB through a 256-byte buffer.

use alloc::format;
use alloc::string::String;

use refill::{Engine, EngineConfig, Instance, InstanceConfig, IntoBoxedSource, Limits, Result};
use refill_testkit::{GeneratedSource, expected_fills, generated_digest};

use crate::outcome::{Checked, Runner};
use crate::streaming::{MIB, digest_checked, stream_with};
use crate::text::{LIMITS, TINY_PAGES, TINY_PAGES_BUFFER, TINY_PAGES_CASE};
use crate::{Guests, engine, instantiate};

/// The most guest memory the 1-byte-page case may use.
const TINY_MEMORY_BOUND: u64 = 1024;

/// `error=<kind>` for a failed call, `<value>` for one that succeeded.
fn value_or_error(result: Result<i64>) -> String {
    match result {
        Ok(value) => format!("{value}"),
        Err(e) => format!("error={:?}", e.kind()),
    }
}

/// Runs `run` and holds its result line to `expected` exactly.
fn exactly(expected: String, run: impl FnOnce() -> Result<String>) -> Checked {
    match run() {
        Ok(result) => Checked::equal(result, expected),
        Err(e) => Checked::unexpected(&e, expected),
    }
}

pub(crate) fn run(guests: &Guests<'_>, runner: &mut Runner<'_>) {
    runner.case(String::from("limits/fuel/endless_loop"), || {
        exactly(
            String::from("spin=error=CpuBudgetExhausted, then fine=7"),
            || {
                let limits = Limits::default().with_fuel(Some(1_000_000));
                let config = InstanceConfig::new().with_limits(limits.clone());
                let mut instance = instantiate(
                    guests.text(LIMITS)?,
                    &config,
                    &EngineConfig::for_limits(&limits),
                )?;
                let spin = value_or_error(instance.call("spin", &[]));
                let fine = value_or_error(instance.call("fine", &[]));
                Ok(format!("spin={spin}, then fine={fine}"))
            },
        )
    });

    runner.case(String::from("limits/fuel/within_budget"), || {
        let len = 64 << 10;
        let limits = Limits::default().with_fuel(Some(10_000_000));
        let config = InstanceConfig::new()
            .with_chunk_size(4 << 10)
            .with_limits(limits.clone());
        let source = GeneratedSource::new(40, len).boxed();
        let run = stream_with(
            guests.digest,
            "digest",
            alloc::vec![source],
            &config,
            &EngineConfig::for_limits(&limits),
        );
        digest_checked(run, generated_digest(40, len), expected_fills(len, 4 << 10))
    });

    runner.case(String::from("limits/memory/grow"), || {
        exactly(
            String::from("grow(1)=1, grow(1)=error=MemoryLimitExceeded, then fine=7"),
            || {
                let limits = Limits::default().with_max_memory_bytes(2 * 65_536);
                let config = InstanceConfig::new().with_limits(limits);
                let mut instance =
                    instantiate(guests.text(LIMITS)?, &config, &EngineConfig::new())?;
                let first = value_or_error(instance.call("grow", &[1]));
                let second = value_or_error(instance.call("grow", &[1]));
                let fine = value_or_error(instance.call("fine", &[]));
                Ok(format!(
                    "grow(1)={first}, grow(1)={second}, then fine={fine}"
                ))
            },
        )
    });

    runner.case(String::from("limits/memory/initial"), || {
        exactly(
            String::from("instantiate=error=MemoryLimitExceeded"),
            || {
                let limits = Limits::default().with_max_memory_bytes(65_536);
                let config = InstanceConfig::new().with_limits(limits);
                let result = instantiate(guests.digest, &config, &EngineConfig::new());
                Ok(format!("instantiate={}", value_or_error(result.map(|_| 0))))
            },
        )
    });

    runner.case(String::from(TINY_PAGES_CASE), || tiny_pages(guests));

    runner.case(
        String::from("pages/size=1/without_custom_page_sizes"),
        || {
            exactly(String::from("compile=error=InvalidModule"), || {
                let compiled = engine(&EngineConfig::new())?.compile(guests.text(TINY_PAGES)?);
                Ok(format!("compile={}", value_or_error(compiled.map(|_| 0))))
            })
        },
    );
}

/// 1 MiB through a 256-byte buffer into a guest of 1-byte pages: the
/// digest, every refill, and at most [`TINY_MEMORY_BOUND`] bytes of guest
/// memory.
fn tiny_pages(guests: &Guests<'_>) -> Checked {
    let chunk = TINY_PAGES_BUFFER;
    let (seed, len) = (30, MIB);
    let run = guests.text(TINY_PAGES).and_then(|wasm| {
        let config = InstanceConfig::new().with_chunk_size(chunk);
        let engine = EngineConfig::new().with_custom_page_sizes(true);
        let source = GeneratedSource::new(seed, len).boxed();
        stream_with(wasm, "digest", alloc::vec![source], &config, &engine)
    });
    let memory = run.as_ref().map_or(0, |s| s.memory);
    let mut checked = digest_checked(run, generated_digest(seed, len), expected_fills(len, chunk));
    checked.passed &= memory <= TINY_MEMORY_BOUND;
    checked.expected = format!("{}, memory<={TINY_MEMORY_BOUND}", checked.expected);
    checked
}
