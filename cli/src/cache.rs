//! The compiled-module cache of the commands that compile a module
//! (`--cache DIR`, `--no-cache`).

use std::path::PathBuf;
use std::sync::OnceLock;

use refill::cache::{CacheOutcome, ModuleCache};
use refill::{AnyEngine, AnyModule, Engine};

use crate::args::CacheArgs;
use crate::error::CliResult;

/// `$XDG_CACHE_HOME/refill`, or `$HOME/.cache/refill` (the XDG default);
/// `None` when neither variable is set to an absolute path.
fn default_dir() -> Option<PathBuf> {
    let absolute = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    absolute("XDG_CACHE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".cache")))
        .map(|base| base.join("refill"))
}

/// The cache the flags ask for, opened once per process (`refill demo`
/// compiles twice): `None` with `--no-cache`, or when the directory cannot
/// be created, which is said once, on stderr, and the command goes on.
fn cache(args: &CacheArgs) -> Option<&'static ModuleCache> {
    static CACHE: OnceLock<Option<ModuleCache>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            if args.no_cache {
                return None;
            }
            let dir = args.cache.clone().or_else(default_dir)?;
            match ModuleCache::open(&dir) {
                Ok(cache) => Some(cache),
                Err(e) => {
                    eprintln!(
                        "warning: cannot use the module cache {} ({e}); compiling without it",
                        dir.display()
                    );
                    None
                }
            }
        })
        .as_ref()
}

/// Compiles `wasm` on `engine` through the cache, if there is one; the
/// outcome is `None` without a cache. The cache's problems are one line
/// each on stderr, never a failure.
pub(crate) fn compile(
    args: &CacheArgs,
    engine: &AnyEngine,
    wasm: &[u8],
) -> CliResult<(AnyModule, Option<CacheOutcome>)> {
    let Some(cache) = cache(args) else {
        return Ok((engine.compile(wasm)?, None));
    };
    let (module, report) = cache.compile(engine, wasm)?;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    Ok((module, Some(report.outcome)))
}
