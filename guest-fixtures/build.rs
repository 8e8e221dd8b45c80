//! Builds the guest workspaces for `wasm32-unknown-unknown` with a nested
//! cargo each and copies every `.wasm` into `OUT_DIR`, where `src/lib.rs`
//! includes it: `guests/` (refill's own guests) and `freenet/` (two contracts
//! and a delegate built against freenet-stdlib from crates.io, with their own
//! lockfile), the latter with the feature `freenet` only.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use refill_guest_builder::{
    WASM_TARGET, build_workspace, check_wasm_target, nested_cargo, run_nested, target_dir,
};

/// refill's own guests: the workspace `guests/` and the `[lib] name`s of its
/// crates, one `<name>.wasm` each.
const GUESTS: (&str, &[&str]) = (
    "guests",
    &[
        "digest",
        "collect",
        "odd_reads",
        "interleave",
        "skip",
        "xor",
    ],
);

/// The freenet-stdlib guests (feature `freenet`).
const FREENET: (&str, &[&str]) = (
    "freenet",
    &["freenet_log", "freenet_stamp", "freenet_vault"],
);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: refill-fixtures: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(var("OUT_DIR")?);

    for path in [
        "guests",
        "freenet/Cargo.toml",
        "freenet/Cargo.lock",
        "freenet/.cargo",
        "freenet/log/src",
        "freenet/log/Cargo.toml",
        "freenet/stamp/src",
        "freenet/stamp/Cargo.toml",
        "freenet/vault/src",
        "freenet/vault/Cargo.toml",
        "freenet/facts/src",
        "freenet/facts/Cargo.toml",
        "../core/src",
        "../core/Cargo.toml",
        "../testkit/src",
        "../testkit/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }

    check_wasm_target()?;

    let target_dir = target_dir(&out_dir).join("guest-fixtures");
    let freenet = env::var_os("CARGO_FEATURE_FREENET").is_some();
    let workspaces: &[_] = if freenet {
        &[GUESTS, FREENET]
    } else {
        &[GUESTS]
    };
    for (workspace, crates) in workspaces {
        build_workspace(&manifest_dir.join(workspace), &target_dir)?;
        let built = target_dir.join(WASM_TARGET).join("release");
        for name in *crates {
            let file = format!("{name}.wasm");
            fs::copy(built.join(&file), out_dir.join(&file)).map_err(|e| {
                format!(
                    "cannot copy {} to OUT_DIR: {e}",
                    built.join(&file).display()
                )
            })?;
        }
    }
    if freenet {
        write_stdlib_facts(&manifest_dir.join("freenet"), &target_dir, &out_dir)?;
    }
    Ok(())
}

/// Runs the `facts` program of the freenet workspace natively: it writes
/// what freenet-stdlib says (its declared host imports, its serialization of
/// sample values) as Rust source into `OUT_DIR`, for `src/lib.rs` to include.
/// It is built in that workspace, away from refill's, because freenet-stdlib
/// switches on features of shared dependencies that break wasmer's build.
fn write_stdlib_facts(dir: &Path, target_dir: &Path, out_dir: &Path) -> Result<(), String> {
    let facts = out_dir.join("freenet_stdlib_facts.rs");
    let mut command = nested_cargo(dir);
    command
        .args([
            "run",
            "--quiet",
            "--locked",
            "-p",
            "refill-freenet-facts",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--")
        .arg(&facts);
    run_nested(command, dir)
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("{name} is not set (is this run by cargo?)"))
}
