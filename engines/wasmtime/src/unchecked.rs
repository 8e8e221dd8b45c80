//! The crate's only `unsafe`, alone in this file: loading a compiled module
//! from an artifact with `wasmtime::Module::deserialize`, which wasmtime
//! makes `unsafe` because it maps the bytes as machine code and trusts
//! them to be its own `Module::serialize` output.

#![allow(unsafe_code)]

use refill_core::artifact::{ArtifactKey, VerifiedArtifact, check_key};
use refill_core::{ErrorKind, Result};

use crate::error::engine_error;

/// The module serialized in `artifact`, for an engine whose key for the
/// module's wasm is `expected` (`None`: the engine keeps no artifacts).
pub(crate) fn deserialize(
    engine: &wasmtime::Engine,
    expected: Option<&ArtifactKey>,
    artifact: VerifiedArtifact<'_>,
) -> Result<wasmtime::Module> {
    check_key(&artifact, expected)?;
    // SAFETY: wasmtime requires the bytes to be exactly the output of its
    // own `Module::serialize` (or `Engine::precompile_module`), unmodified.
    // They are: a `VerifiedArtifact` exists only once refill-core has checked
    // the envelope that `ModuleCache` (through `artifact::seal`) wrote around
    // `WasmtimeEngine::serialize`'s output: its magic and format, its
    // whole key, its length and the BLAKE3 hash of the payload, so a corrupt,
    // truncated, foreign or stale file is refused before this point; and
    // `check_key` above has just checked that the key it was verified
    // against is this engine's own for this wasm (wasmtime's version, its
    // `precompile_compatibility_hash`, which covers target, CPU features and
    // every compilation setting, refill's version and configuration, the
    // wasm's BLAKE3 hash). What the envelope cannot vouch for is a writer of
    // the cache directory who forges a whole envelope: that is outside the
    // contract (the directory is as trusted as the executable; see
    // docs/security.md). Tested by `artifact::tests`, which load modules
    // through here and run them.
    let module = unsafe { wasmtime::Module::deserialize(engine, artifact.payload()) };
    module.map_err(|e| {
        engine_error(
            ErrorKind::InvalidArtifact,
            "wasmtime refused the artifact",
            e,
        )
    })
}
