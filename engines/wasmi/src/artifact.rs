//! Compiled modules as artifacts: wasmi has none. It validates a module and
//! translates each function lazily, on its first call, into its own
//! bytecode, which it cannot serialize; and there is little to save: it
//! compiles a 792 KB freenet contract in about 9 ms, against about 0.9 s for
//! wasmtime's Cranelift. refill's module cache therefore simply compiles on
//! wasmi (`artifact_key` is `None`), the same interface as on the engines
//! that keep artifacts.

use alloc::vec::Vec;

use refill_core::artifact::{ArtifactKey, Artifacts, VerifiedArtifact, check_key};
use refill_core::{Error, ErrorKind, Result};

use crate::engine::{WasmiEngine, WasmiModule};

impl Artifacts for WasmiEngine {
    fn artifact_key(&self, _wasm: &[u8]) -> Option<ArtifactKey> {
        None
    }

    fn serialize(&self, _module: &WasmiModule) -> Result<Vec<u8>> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "wasmi translates lazily and has no serialized module",
        ))
    }

    fn load(&self, _wasm: &[u8], artifact: VerifiedArtifact<'_>) -> Result<WasmiModule> {
        check_key(&artifact, None)?;
        // `check_key` refuses every artifact when there is no key.
        Err(Error::new(
            ErrorKind::Unsupported,
            "wasmi has no serialized module",
        ))
    }
}

#[cfg(test)]
mod tests {
    use refill_core::Engine;
    use refill_core::artifact::{TARGET, seal};

    use super::*;

    /// wasmi keeps no artifacts: no key, and neither serializing nor
    /// loading is possible (`Unsupported`).
    #[test]
    fn wasmi_keeps_no_artifacts() {
        let engine = WasmiEngine::new();
        let wasm = b"\0asm\x01\0\0\0";
        assert!(engine.artifact_key(wasm).is_none());
        let module = engine.compile(wasm).expect("compiles");
        let error = engine.serialize(&module).expect_err("no artifacts");
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        let key = ArtifactKey::new("wasmi", "2.0", "", TARGET, wasm);
        let envelope = seal(&key, b"");
        let artifact = VerifiedArtifact::verify(&envelope, &key).expect("verifies");
        let error = engine.load(wasm, artifact).expect_err("no artifacts");
        assert_eq!(error.kind(), ErrorKind::Unsupported);
    }
}
