//! Builds the bare baseline (`bare`) and its refill twin (`twin`), runs
//! each under QEMU with `-icount shift=0` (the runner in
//! `.cargo/config.toml`), and prints them side by side: flash taken by code,
//! peak heap, stack, and instructions per streamed byte at each chunk size,
//! with the ratios and the targets (reported, not asserted). Exits with 1 if
//! either firmware failed or printed no figures, or if the bare baseline
//! contains refill code.
//!
//! Run from `embedded/`: `cargo measure` (an alias for
//! `cargo run --release -p refill-measure --target host-tuple`). This
//! program runs on the host; the firmwares it measures are built for
//! `thumbv7em-none-eabihf` (targets without atomic compare-and-swap, such as
//! `thumbv6m-none-eabi`, cannot run wasmi).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};

use refill_guest_builder::nested_cargo;

/// The two firmwares, by binary name, and the binding name they print.
const FIRMWARES: [(&str, &str); 2] = [("bare", "bare"), ("twin", "refill")];

/// Refill's flash cost over the baseline, as a share of the refill
/// firmware's code, should stay within this (percent).
const FLASH_TARGET_PERCENT: f64 = 10.0;
/// Refill's instructions per streamed byte over the baseline's.
const INSTRUCTIONS_TARGET_RATIO: f64 = 1.1;

/// What one firmware printed.
#[derive(Debug, Default)]
struct Figures {
    flash_code: Option<u64>,
    peak_heap: Option<u64>,
    stack: Option<u64>,
    /// Instructions per byte by chunk size.
    per_byte: BTreeMap<u32, f64>,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    let embedded = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut ok = true;
    let mut figures = Vec::new();
    for (bin, binding) in FIRMWARES {
        let (success, output) = run_firmware(&embedded, bin)?;
        print!("{output}");
        if !success {
            println!("{bin}: the firmware failed");
            ok = false;
        }
        figures.push(parse(&output, binding));
    }
    let bare_elf = elf(&embedded, "bare");
    let bare =
        std::fs::read(&bare_elf).map_err(|e| format!("cannot read {}: {e}", bare_elf.display()))?;
    if contains(&bare, b"refill_core") || contains(&bare, b"refill_wasmi") {
        println!("bare: the baseline contains refill code");
        ok = false;
    }
    println!();
    ok &= table(&figures[0], &figures[1]);
    Ok(ok)
}

/// Builds and runs `bin` through cargo (and so through the QEMU runner):
/// whether it exited with 0, and what it printed.
fn run_firmware(embedded: &Path, bin: &str) -> Result<(bool, String), String> {
    let mut command = nested_cargo(embedded);
    command
        .args(["run", "--release", "--locked", "--quiet", "--bin", bin])
        .stdout(Stdio::piped());
    let output = command
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    ))
}

/// Where cargo puts the release ELF of `bin`.
fn elf(embedded: &Path, bin: &str) -> PathBuf {
    embedded
        .join("target/thumbv7em-none-eabihf/release")
        .join(bin)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first number in `text` (digits, optionally with a decimal point).
fn number(text: &str) -> Option<f64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn parse(output: &str, binding: &str) -> Figures {
    let mut figures = Figures::default();
    let per_byte = format!("per-byte {binding} chunk=");
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("flash: ") {
            figures.flash_code = number(rest).map(|n| n as u64);
        } else if let Some(rest) = line.strip_prefix("peak heap: ") {
            figures.peak_heap = number(rest).map(|n| n as u64);
        } else if let Some(rest) = line.strip_prefix("stack: ") {
            figures.stack = number(rest).map(|n| n as u64);
        } else if let Some(rest) = line.strip_prefix(&per_byte)
            && let Some((chunk, value)) = rest.split_once(':')
            && let (Ok(chunk), Some(value)) = (chunk.parse(), number(value))
        {
            figures.per_byte.insert(chunk, value);
        }
    }
    figures
}

/// Prints the comparison; false if a figure is missing.
fn table(bare: &Figures, refill: &Figures) -> bool {
    println!(
        "{:<34} {:>12} {:>12}  refill against bare",
        "", "bare", "refill"
    );
    let mut complete = true;
    match (bare.flash_code, refill.flash_code) {
        (Some(b), Some(r)) => {
            let cost = r as f64 - b as f64;
            let share = 100.0 * cost / r as f64;
            println!(
                "{:<34} {:>10} B {:>10} B  {cost:+.0} B, {share:.1}% of the refill firmware \
                 (target <= {FLASH_TARGET_PERCENT}%: {})",
                "flash taken by code",
                b,
                r,
                verdict(share <= FLASH_TARGET_PERCENT)
            );
        }
        _ => complete = false,
    }
    for (name, b, r) in [
        ("peak heap", bare.peak_heap, refill.peak_heap),
        ("stack high-water mark", bare.stack, refill.stack),
    ] {
        match (b, r) {
            (Some(b), Some(r)) => println!(
                "{name:<34} {b:>10} B {r:>10} B  {:+} B",
                r as i64 - b as i64
            ),
            _ => complete = false,
        }
    }
    if bare.per_byte.is_empty() || bare.per_byte.len() != refill.per_byte.len() {
        complete = false;
    }
    for (chunk, b) in &bare.per_byte {
        let Some(r) = refill.per_byte.get(chunk) else {
            complete = false;
            continue;
        };
        let ratio = r / b;
        println!(
            "{:<34} {b:>12.3} {r:>12.3}  {ratio:.3}x (target <= {INSTRUCTIONS_TARGET_RATIO}x: {})",
            format!("instructions per byte, {} KiB chunks", chunk >> 10),
            verdict(ratio <= INSTRUCTIONS_TARGET_RATIO)
        );
    }
    if !complete {
        println!("a firmware printed too few figures to compare");
    }
    complete
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}
