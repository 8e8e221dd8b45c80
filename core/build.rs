//! Records the target triple refill-core is built for: compiled-module
//! artifacts are keyed on it (`artifact::TARGET`).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=REFILL_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
