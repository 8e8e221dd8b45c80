//! Building refill's guest workspaces from a build script: a nested cargo
//! for `wasm32-unknown-unknown`, run from the guest workspace (so its
//! `.cargo/config.toml` applies) without the outer build's variables, into a
//! target directory that survives `OUT_DIR` changing. Used by
//! `refill-fixtures` and by the device firmware in `embedded/`.

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The wasm target the guests are built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Inherited variables to remove before running the nested cargo, because
/// they describe the outer build: rustflags (`CARGO_ENCODED_RUSTFLAGS` would
/// override `guests/.cargo/config.toml` and carry host flags into a wasm
/// build), wrappers (`cargo clippy` sets `RUSTC_WORKSPACE_WRAPPER`), the
/// outer target and target dir, and the variables cargo sets for a build
/// script (seen by `env!`/`option_env!` in the guests' crates if left).
const CLEARED: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_ENCODED_RUSTDOCFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
    "OUT_DIR",
    "TARGET",
    "HOST",
    "PROFILE",
    "OPT_LEVEL",
    "DEBUG",
    "NUM_JOBS",
    "RUSTC_LINKER",
];

/// Prefixes of inherited variables to remove, for the same reasons:
/// the outer package's cfgs, features and metadata, and cargo's internal
/// `__CARGO_*` switches (`__CARGO_FIX_PLZ` under `cargo fix`).
const CLEARED_PREFIXES: &[&str] = &[
    "CARGO_CFG_",
    "CARGO_FEATURE_",
    "CARGO_PKG_",
    "DEP_",
    "__CARGO_",
];

/// Builds the guest workspace at `dir` in release for the wasm target, as
/// its lockfile pins it, into `target_dir` (shared by every workspace).
pub fn build_workspace(dir: &Path, target_dir: &Path) -> Result<(), String> {
    let mut command = nested_cargo(dir);
    command
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            WASM_TARGET,
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    run_nested(command, dir)
}

/// A cargo command run from the workspace at `dir` (so that its
/// `.cargo/config.toml` applies), without the outer build's variables, its
/// output on stderr.
pub fn nested_cargo(dir: &Path) -> Command {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .current_dir(dir)
        // Whatever the nested cargo prints belongs on stderr: stdout is where
        // cargo reads this script's `cargo:` instructions.
        .stdout(Stdio::from(std::io::stderr()));
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if CLEARED.contains(&key) || CLEARED_PREFIXES.iter().any(|p| key.starts_with(p)) {
            command.env_remove(key);
        }
    }
    command
}

/// Runs `command`; a failure names the workspace (its own errors are above).
pub fn run_nested(mut command: Command, dir: &Path) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo in {} failed ({status}); see the errors above",
            dir.display()
        ));
    }
    Ok(())
}

/// Fails with a one-line hint unless the standard library for the wasm target
/// is installed in the sysroot of the `rustc` cargo uses.
pub fn check_wasm_target() -> Result<(), String> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&rustc).display()))?;
    if !output.status.success() {
        return Err(format!(
            "`{} --print sysroot` failed: {}",
            Path::new(&rustc).display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir() {
        return Err(format!(
            "the {WASM_TARGET} target is not installed; run `rustup target add {WASM_TARGET}`"
        ));
    }
    Ok(())
}

/// Where the nested build keeps its output: `<target dir>/guest-fixtures`,
/// so that it survives `OUT_DIR` changing (every profile, `cargo clippy` and
/// `cargo test` get their own `OUT_DIR`) and `cargo clean` removes it.
///
/// The target dir is found from `OUT_DIR` (`<target>/[<triple>/]<profile>/
/// build/<pkg>-<hash>/out`) by walking up to the nearest directory holding
/// `CACHEDIR.TAG`, which cargo writes at the root of every target (and build)
/// dir. That follows wherever cargo actually builds: `--target-dir`,
/// `build.target-dir` or `build.build-dir` in a config file, a relative
/// `CARGO_TARGET_DIR` (relative to a directory this script cannot know),
/// `--target <triple>` and custom profiles. Should the tag ever be missing,
/// `OUT_DIR` itself is used: always correct, only not shared between profiles.
pub fn target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .skip(1)
        // <pkg>-<hash>, build, <profile>, [<triple>], <target>, and one more
        // level of slack: never wander far above the build.
        .take(6)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or(out_dir)
        .to_path_buf()
}
