//! A disk cache of compiled modules (feature `std`): compile a contract once,
//! load it in milliseconds on every later run.
//!
//! [`ModuleCache::compile`] compiles a module on any engine with
//! [`Artifacts`] ([`crate::AnyEngine`] included), looking first for an
//! artifact of it in the cache directory: one file per
//! [`ArtifactKey`] (engine, engine version and build, refill version, the
//! engine's configuration, the target and its CPU features, the wasm's
//! BLAKE3 hash), named by the key's BLAKE3 hash. A file is loaded only after its
//! envelope has been checked against that key (see
//! [`refill_core::artifact`]); a file that fails the check or that the
//! engine refuses is reported (`tracing::warn!` and
//! [`CacheReport::warnings`]), the module is compiled, and the file
//! replaced. Files are written to a temporary file and renamed into place,
//! so a reader never sees half a file. Failing to write the cache never
//! fails the compilation: it is a warning.
//!
//! On wasmi, which keeps no artifacts (it translates lazily: a 792 KB
//! contract in about 9 ms), the cache simply compiles
//! ([`CacheOutcome::Uncached`]).
//!
//! The directory must be as trusted as the executable: whoever can write
//! it can write an envelope that passes every check around code of their
//! choosing, just as they could replace the binary (`docs/security.md`).

use std::format;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

use refill_core::artifact::{ArtifactKey, Artifacts, VerifiedArtifact, seal};
use refill_core::{Error, ErrorKind, Result};

/// The extension of the cache's files.
const EXTENSION: &str = "artifact";

/// A directory of compiled-module artifacts.
#[derive(Clone, Debug)]
pub struct ModuleCache {
    dir: PathBuf,
}

/// What [`ModuleCache::compile`] did to get the module.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheOutcome {
    /// Loaded from a verified artifact: not compiled.
    Hit,
    /// No artifact yet: compiled, and stored (unless a warning says it
    /// could not be).
    Miss,
    /// The artifact was unusable (corrupt, truncated, foreign, stale, or
    /// refused by the engine; a warning says which): compiled again, and
    /// the file replaced.
    Recompiled,
    /// The engine keeps no artifacts (wasmi): compiled.
    Uncached,
}

impl CacheOutcome {
    /// `hit`, `miss`, `recompiled` or `uncached`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Miss => "miss",
            Self::Recompiled => "recompiled",
            Self::Uncached => "uncached",
        }
    }
}

impl core::fmt::Display for CacheOutcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`ModuleCache::compile`] did, and what went wrong on the way
/// without failing it.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheReport {
    /// Hit, miss, recompiled or uncached.
    pub outcome: CacheOutcome,
    /// The module's file in the cache (`None` when the engine keeps no
    /// artifacts).
    pub file: Option<PathBuf>,
    /// One line per problem met, each also logged with `tracing::warn!`:
    /// an unusable file (which one, and why), a file that could not be
    /// written or removed.
    pub warnings: Vec<String>,
}

impl ModuleCache {
    /// The cache in `dir`, created (with its parents) if it does not exist.
    pub fn open(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The cache's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file an artifact of `key` is stored in.
    pub fn file_of(&self, key: &ArtifactKey) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", key.file_stem()))
    }

    /// The module of `wasm` on `engine`: loaded from the cache if a
    /// verified artifact of it is there, compiled (and stored) otherwise.
    /// Fails only where `engine.compile(wasm)` would; the cache's own
    /// problems are warnings in the report.
    pub fn compile<E: Artifacts>(
        &self,
        engine: &E,
        wasm: &[u8],
    ) -> Result<(E::Module, CacheReport)> {
        let Some(key) = engine.artifact_key(wasm) else {
            let report = CacheReport {
                outcome: CacheOutcome::Uncached,
                file: None,
                warnings: Vec::new(),
            };
            return Ok((engine.compile(wasm)?, report));
        };
        let file = self.file_of(&key);
        let mut warnings = Vec::new();
        let outcome = match fs::read(&file) {
            Ok(bytes) => match load(engine, wasm, &key, &bytes) {
                Ok(module) => {
                    let report = CacheReport {
                        outcome: CacheOutcome::Hit,
                        file: Some(file),
                        warnings,
                    };
                    return Ok((module, report));
                }
                Err(why) => {
                    warn(
                        &mut warnings,
                        format!(
                            "cache file {} is unusable ({why}); recompiling",
                            file.display()
                        ),
                    );
                    CacheOutcome::Recompiled
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => CacheOutcome::Miss,
            Err(e) => {
                warn(
                    &mut warnings,
                    format!(
                        "cannot read cache file {} ({e}); recompiling",
                        file.display()
                    ),
                );
                CacheOutcome::Recompiled
            }
        };
        let module = engine.compile(wasm)?;
        if let Err(why) = self.store(engine, &key, &module, &file) {
            warn(
                &mut warnings,
                format!("cannot write cache file {} ({why})", file.display()),
            );
            // A bad file must not be tried again on every run.
            let removed = match outcome {
                CacheOutcome::Recompiled => fs::remove_file(&file),
                _ => Ok(()),
            };
            if let Err(e) = removed
                && e.kind() != io::ErrorKind::NotFound
            {
                warn(
                    &mut warnings,
                    format!("cannot remove cache file {} ({e})", file.display()),
                );
            }
        }
        let report = CacheReport {
            outcome,
            file: Some(file),
            warnings,
        };
        Ok((module, report))
    }

    /// Serializes `module`, seals it for `key` and writes it to `file`
    /// atomically: a temporary file in the same directory, renamed over it.
    fn store<E: Artifacts>(
        &self,
        engine: &E,
        key: &ArtifactKey,
        module: &E::Module,
        file: &Path,
    ) -> core::result::Result<(), String> {
        let payload = engine.serialize(module).map_err(|e| e.to_string())?;
        let envelope = seal(key, &payload);
        // Unique per process and call: concurrent writers never share a
        // temporary file, and the last rename wins with a whole file.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let temp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            key.file_stem(),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let written = fs::File::create(&temp)
            .and_then(|mut out| out.write_all(&envelope))
            .and_then(|()| fs::rename(&temp, file));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e.to_string());
        }
        Ok(())
    }
}

/// The module in `bytes`, if they are a verified artifact of `key` that
/// the engine accepts.
fn load<E: Artifacts>(
    engine: &E,
    wasm: &[u8],
    key: &ArtifactKey,
    bytes: &[u8],
) -> Result<E::Module> {
    let artifact = VerifiedArtifact::verify(bytes, key).map_err(Error::from)?;
    engine.load(wasm, artifact).map_err(|e| {
        if e.kind() == ErrorKind::InvalidArtifact {
            e
        } else {
            Error::new(ErrorKind::InvalidArtifact, e.message().to_string()).with_source(e)
        }
    })
}

/// Logs `message` and keeps it for the report.
fn warn(warnings: &mut Vec<String>, message: String) {
    tracing::warn!("{message}");
    warnings.push(message);
}

#[cfg(test)]
mod tests {
    use refill_core::{Engine, Instance, Module};

    use super::*;
    use crate::AnyEngine;

    const GUEST: &str = r#"(module
      (memory (export "memory") 1)
      (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
      (func (export "answer") (result i64) i64.const 42))"#;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("refill-cache-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn answer(module: &crate::AnyModule) -> i64 {
        let mut instance = module
            .instantiate(&refill_core::InstanceConfig::new())
            .expect("instantiates");
        instance.call("answer", &[]).expect("answers")
    }

    /// Miss, then hit; a corrupt, truncated or foreign file is reported,
    /// recompiled and replaced, never loaded; every module answers alike.
    /// On an engine without artifacts, the cache compiles.
    #[test]
    fn the_cache_hits_and_survives_bad_files() {
        let wasm = wat::parse_str(GUEST).expect("test module");
        for engine in AnyEngine::all_compiled() {
            let dir = temp_dir(engine.name());
            let cache = ModuleCache::open(&dir).expect("cache dir");
            let (module, first) = cache.compile(&engine, &wasm).expect("compiles");
            assert_eq!(answer(&module), 42);
            let Some(file) = first.file.clone() else {
                assert_eq!(first.outcome, CacheOutcome::Uncached, "{}", engine.name());
                continue;
            };
            assert_eq!(first.outcome, CacheOutcome::Miss);
            assert!(first.warnings.is_empty(), "{:?}", first.warnings);
            let (module, second) = cache.compile(&engine, &wasm).expect("loads");
            assert_eq!(second.outcome, CacheOutcome::Hit, "{}", engine.name());
            assert_eq!(answer(&module), 42);

            let good = fs::read(&file).expect("the file");
            let mut flipped = good.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 0x40;
            let damaged: [(&str, Vec<u8>); 3] = [
                ("corrupt", flipped),
                ("truncated", good[..good.len() / 2].to_vec()),
                ("foreign", b"not an artifact at all".to_vec()),
            ];
            for (what, bytes) in damaged {
                fs::write(&file, bytes).expect("damages the file");
                let (module, report) = cache.compile(&engine, &wasm).expect("recompiles");
                assert_eq!(report.outcome, CacheOutcome::Recompiled, "{what}");
                assert_eq!(report.warnings.len(), 1, "{what}: {:?}", report.warnings);
                assert!(report.warnings[0].contains(&file.display().to_string()));
                assert_eq!(answer(&module), 42);
                assert_eq!(fs::read(&file).expect("replaced"), good, "{what}");
            }
            let (_, again) = cache.compile(&engine, &wasm).expect("loads");
            assert_eq!(again.outcome, CacheOutcome::Hit);
            let _ = fs::remove_dir_all(&dir);
        }
    }

    /// A cache that cannot be written still compiles, with a warning.
    #[test]
    fn an_unwritable_cache_only_warns() {
        let wasm = wat::parse_str(GUEST).expect("test module");
        for engine in AnyEngine::all_compiled() {
            let dir = temp_dir(&format!("gone-{}", engine.name()));
            let cache = ModuleCache::open(&dir).expect("cache dir");
            fs::remove_dir_all(&dir).expect("removes the dir");
            let (module, report) = cache.compile(&engine, &wasm).expect("compiles");
            assert_eq!(answer(&module), 42);
            if report.outcome == CacheOutcome::Miss {
                assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
                assert!(report.warnings[0].contains("cannot write"));
            }
        }
    }
}
