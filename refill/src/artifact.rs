//! [`Artifacts`] for [`AnyEngine`]: the engine side of a module cache, on
//! whichever engine was chosen at run time. Generated from the engine table
//! like the `Any*` types.

use alloc::vec::Vec;

use refill_core::artifact::{ArtifactKey, Artifacts, VerifiedArtifact};
use refill_core::{Error, ErrorKind, Result};

use crate::any::{AnyEngine, AnyModule};

macro_rules! define_any_artifacts {
    ($($variant:ident $name:ident $feature:literal $krate:ident $engine:ident $module:ident
       $linked:ident $instance:ident $version:literal $summary:literal;)*) => {
        impl Artifacts for AnyEngine {
            fn artifact_key(&self, wasm: &[u8]) -> Option<ArtifactKey> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(engine) => engine.artifact_key(wasm),
                    )*
                }
            }

            fn serialize(&self, module: &AnyModule) -> Result<Vec<u8>> {
                match (self, module) {
                    $(
                        #[cfg(feature = $feature)]
                        (Self::$variant(engine), AnyModule::$variant(module)) => {
                            engine.serialize(module)
                        }
                    )*
                    // Only reachable with several engines compiled in.
                    #[allow(unreachable_patterns)]
                    _ => Err(Error::new(
                        ErrorKind::Unsupported,
                        "the module was compiled by another engine",
                    )),
                }
            }

            fn load(&self, wasm: &[u8], artifact: VerifiedArtifact<'_>) -> Result<AnyModule> {
                match self {
                    $(
                        #[cfg(feature = $feature)]
                        Self::$variant(engine) => engine.load(wasm, artifact).map(Into::into),
                    )*
                }
            }
        }
    };
}

crate::for_each_engine!(define_any_artifacts);
