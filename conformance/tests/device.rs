//! The device cases for real. `refill_device::run_all` runs on the host
//! (wasmi, the guests from `refill_fixtures` and the text guests compiled
//! here); then the Cortex-M4 firmware in `embedded/` is built and run under
//! QEMU through a nested `cargo run --release`, and must pass, end with
//! `N passed, 0 failed`, and print for every case the very line the host
//! computed. The bare baseline and its refill twin run under QEMU too
//! (`embedded/measure`). The firmwares' figures (heap, stack, flash,
//! instructions, per case) are in this test's output:
//! `cargo test -p refill-conformance --test device -- --nocapture`.
//!
//! Needs `qemu-system-arm` and the `thumbv7em-none-eabihf` target; without
//! them the QEMU tests fail with one line naming what to install.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use refill_device::{Guests, Outcome, Summary, WasmGuest, run_all, text_guests};
use refill_guest_builder::nested_cargo;

/// The firmware's target.
const THUMB: &str = "thumbv7em-none-eabihf";
/// The emulator the embedded workspace's runner uses.
const QEMU: &str = "qemu-system-arm";

/// The host's outcomes, computed once for every test of this file.
fn host() -> &'static (Vec<Outcome>, Summary) {
    static HOST: OnceLock<(Vec<Outcome>, Summary)> = OnceLock::new();
    HOST.get_or_init(|| {
        let compiled: Vec<(&str, Vec<u8>)> = text_guests()
            .into_iter()
            .map(|guest| match wat::parse_str(&guest.wat) {
                Ok(wasm) => (guest.name, wasm),
                Err(e) => panic!("the text guest `{}` does not compile: {e}", guest.name),
            })
            .collect();
        let text: Vec<WasmGuest<'_>> = compiled
            .iter()
            .map(|(name, wasm)| WasmGuest { name, wasm })
            .collect();
        let guests = Guests {
            digest: refill_fixtures::DIGEST.wasm,
            interleave: refill_fixtures::INTERLEAVE.wasm,
            skip: refill_fixtures::SKIP.wasm,
            text: &text,
        };
        let mut outcomes = Vec::new();
        let summary = run_all(&guests, &mut |outcome| outcomes.push(outcome.clone()));
        (outcomes, summary)
    })
}

/// The embedded workspace.
fn embedded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../embedded")
}

/// Fails with one line naming what to install, unless QEMU and the
/// firmware's target are there.
fn require_qemu_and_target() {
    let qemu = Command::new(QEMU).arg("--version").output();
    if !qemu.is_ok_and(|output| output.status.success()) {
        panic!("{QEMU} is not installed: run `apt-get install -y --no-install-recommends {QEMU}`");
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(embedded())
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    if !sysroot.is_some_and(|sysroot| sysroot.join("lib/rustlib").join(THUMB).is_dir()) {
        panic!("the {THUMB} target is not installed: run `rustup target add {THUMB}`");
    }
}

/// Runs cargo with `args` in the embedded workspace, without this build's
/// variables, its output captured (its progress and errors on stderr).
fn cargo_in_embedded(args: &[&str]) -> Output {
    let dir = embedded();
    let mut command = nested_cargo(&dir);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run cargo in {}: {e}", dir.display()),
    }
}

/// `name: result` of a firmware case line (`ok name: result | figures` or
/// `FAIL name: result (expected …) | figures`) and whether it passed.
fn case_line(line: &str) -> Option<(bool, &str)> {
    let (passed, rest) = if let Some(rest) = line.strip_prefix("ok ") {
        (true, rest)
    } else {
        (false, line.strip_prefix("FAIL ")?)
    };
    let case = rest.split(" | ").next().unwrap_or(rest);
    let case = case.split(" (expected ").next().unwrap_or(case);
    Some((passed, case))
}

/// Every device case passes on the host, with wasmi.
#[test]
fn device_cases_pass_on_the_host() {
    let (outcomes, summary) = host();
    for outcome in outcomes {
        println!("{outcome}");
    }
    println!("{summary}");
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(ToString::to_string)
        .collect();
    assert!(summary.all_passed(), "{summary}:\n{}", failed.join("\n"));
    assert_eq!(summary.passed, outcomes.len());
}

/// The firmware passes every case under QEMU, ends with `N passed, 0
/// failed`, and prints for every case exactly the host's result.
#[test]
fn firmware_passes_under_qemu_with_the_hosts_results() {
    require_qemu_and_target();
    let (host, _) = host();
    let output = cargo_in_embedded(&["run", "--release", "--locked", "--quiet"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "the firmware failed ({}); its output is above",
        output.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(last, format!("{} passed, 0 failed", host.len()));

    let device: Vec<(bool, &str)> = stdout.lines().filter_map(case_line).collect();
    let device_lines: Vec<&str> = device.iter().map(|(_, line)| *line).collect();
    let host_lines: Vec<String> = host.iter().map(Outcome::line).collect();
    for (line, (passed, device_line)) in host_lines.iter().zip(&device) {
        assert!(passed, "the firmware failed `{device_line}`");
        assert_eq!(
            device_line, line,
            "the firmware's result differs from the host's"
        );
    }
    assert_eq!(
        device_lines, host_lines,
        "the firmware ran other cases than the host"
    );
}

/// The bare wasmi baseline and its refill twin both stream every byte
/// under QEMU, and the baseline holds no refill code; their figures and
/// ratios are printed (instructions are reported, never asserted).
#[test]
fn bare_baseline_and_refill_twin_stream_every_byte_under_qemu() {
    require_qemu_and_target();
    let output = cargo_in_embedded(&[
        "run",
        "--release",
        "--locked",
        "--quiet",
        "-p",
        "refill-measure",
        "--target",
        "host-tuple",
    ]);
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the baseline or its twin failed ({}); the output is above",
        output.status
    );
}
