//! Everything the firmwares embed, built on the host:
//!
//! 1. `memory.x` where cortex-m-rt's `link.x` finds it;
//! 2. the Rust guests (`digest`, `interleave`, `skip`) built for
//!    `wasm32-unknown-unknown` by a nested cargo (`refill-guest-builder`)
//!    from `guest-fixtures/guests`, into `<this target dir>/guest-fixtures`;
//! 3. the guests written as text (`refill_device::text_guests`, the crate
//!    without its engine) compiled with `wat`;
//!
//! all copied into `OUT_DIR`, with `wasm.rs` (the Rust guests) and
//! `text_guests.rs` (the others, as `refill_device::WasmGuest`s) for the
//! binaries to include.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use refill_guest_builder::{WASM_TARGET, build_workspace, check_wasm_target, target_dir};

/// The Rust guests the firmwares embed, by `[lib] name`.
const RUST_GUESTS: [&str; 3] = ["digest", "interleave", "skip"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: refill-firmware: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let main = manifest_dir.join("../..");
    for path in [
        "memory.x",
        "../../guest-fixtures/guests",
        "../../core/src",
        "../../core/Cargo.toml",
        "../../testkit/src",
        "../../testkit/Cargo.toml",
        "../../device/src",
    ] {
        println!("cargo:rerun-if-changed={path}");
    }

    fs::copy(manifest_dir.join("memory.x"), out_dir.join("memory.x"))
        .map_err(|e| format!("cannot copy memory.x to OUT_DIR: {e}"))?;
    println!("cargo:rustc-link-search={}", out_dir.display());

    check_wasm_target()?;
    let guests = main.join("guest-fixtures/guests");
    let target = target_dir(&out_dir).join("guest-fixtures");
    build_workspace(&guests, &target)?;
    let built = target.join(WASM_TARGET).join("release");
    let mut wasm_rs = String::new();
    for name in RUST_GUESTS {
        let file = format!("{name}.wasm");
        copy(&built.join(&file), &out_dir.join(&file))?;
        let _ = writeln!(
            wasm_rs,
            "/// The `{name}` guest from `guest-fixtures/guests`.\n\
             pub(crate) static {}: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\"));",
            name.to_uppercase()
        );
    }
    write(&out_dir.join("wasm.rs"), &wasm_rs)?;

    let mut text_rs = String::from(
        "/// The guests written as text, compiled by the build script.\n\
         pub(crate) static TEXT_GUESTS: &[refill_device::WasmGuest<'static>] = &[\n",
    );
    for guest in refill_device::text_guests() {
        let wasm = wat::parse_str(&guest.wat)
            .map_err(|e| format!("the text guest `{}` does not compile: {e}", guest.name))?;
        let file = format!("{}.wasm", guest.name);
        fs::write(out_dir.join(&file), wasm).map_err(|e| format!("cannot write {file}: {e}"))?;
        let _ = writeln!(
            text_rs,
            "    refill_device::WasmGuest {{ name: {:?}, wasm: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\")) }},",
            guest.name
        );
    }
    text_rs.push_str("];\n");
    write(&out_dir.join("text_guests.rs"), &text_rs)
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("cannot copy {} to OUT_DIR: {e}", from.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("{name} is not set (is this run by cargo?)"))
}
