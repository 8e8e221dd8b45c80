//! Compiled modules as artifacts: what a wasmtime artifact is keyed on,
//! serializing a module, and loading one back (through `unchecked.rs`, the
//! crate's one `unsafe`), for refill's module cache.

use std::hash::Hash;

use refill_core::artifact::{ArtifactKey, Artifacts, Fingerprint, TARGET, VerifiedArtifact};
use refill_core::{Engine, Error, ErrorKind, Result};

use crate::engine::{WasmtimeEngine, WasmtimeModule};
use crate::error::engine_error;
use crate::unchecked;

/// The wasmtime refill is built with (pinned with `=` in the workspace).
const WASMTIME_VERSION: &str = "48.0.8";

impl Artifacts for WasmtimeEngine {
    /// wasmtime's version, refill's configuration (fuel metering, epoch
    /// interruption) and wasmtime's own `precompile_compatibility_hash`
    /// (target triple, CPU features, Cranelift flags, tunables such as
    /// stack and memory settings, wasm features such as custom page sizes,
    /// wasmtime's version), the target, and the wasm.
    fn artifact_key(&self, wasm: &[u8]) -> Option<ArtifactKey> {
        let mut compatibility = Fingerprint::new();
        self.engine
            .precompile_compatibility_hash()
            .hash(&mut compatibility);
        let config = format!(
            "fuel_metering={} epoch_interruption={} compatibility={}",
            self.fuel_metering,
            self.ticker.is_some(),
            compatibility.to_hex()
        );
        Some(ArtifactKey::new(
            self.name(),
            WASMTIME_VERSION,
            config,
            TARGET,
            wasm,
        ))
    }

    fn serialize(&self, module: &WasmtimeModule) -> Result<Vec<u8>> {
        if !wasmtime::Engine::same(&self.engine, &module.engine.engine) {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the module was compiled by another wasmtime engine",
            ));
        }
        module
            .module
            .serialize()
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmtime cannot serialize the module", e))
    }

    fn load(&self, wasm: &[u8], artifact: VerifiedArtifact<'_>) -> Result<WasmtimeModule> {
        let expected = self.artifact_key(wasm);
        let module = unchecked::deserialize(&self.engine, expected.as_ref(), artifact)?;
        Ok(WasmtimeModule {
            engine: self.clone(),
            module,
        })
    }
}

#[cfg(test)]
mod tests {
    use refill_core::artifact::seal;
    use refill_core::{EngineConfig, InstanceConfig, Limits, Module};

    use super::*;

    /// A start function (sets the global `add` adds), a loop that burns
    /// fuel, and memory growth.
    const GUEST: &str = r#"(module
      (memory (export "memory") 1)
      (global $bias (mut i64) (i64.const 0))
      (start $init)
      (func $init (global.set $bias (i64.const 5)))
      (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
      (func (export "add") (param i64 i64) (result i64)
        (i64.add (i64.add (local.get 0) (local.get 1)) (global.get $bias)))
      (func (export "spin") (param i64) (result i64)
        (loop $again
          (local.set 0 (i64.sub (local.get 0) (i64.const 1)))
          (br_if $again (i64.ne (local.get 0) (i64.const 0))))
        (i64.const 1))
      (func (export "grow") (param i64) (result i64)
        (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get 0))))))"#;

    fn reload(engine: &WasmtimeEngine, wasm: &[u8], module: &WasmtimeModule) -> WasmtimeModule {
        let key = engine.artifact_key(wasm).expect("wasmtime keeps artifacts");
        let envelope = seal(&key, &engine.serialize(module).expect("serializes"));
        let artifact = VerifiedArtifact::verify(&envelope, &key).expect("verifies");
        engine.load(wasm, artifact).expect("loads")
    }

    /// A module loaded through `unchecked::deserialize` runs as the
    /// compiled one: same results, start function run, fuel and memory
    /// limits enforced with the same kinds.
    #[test]
    fn a_loaded_module_behaves_as_the_compiled_one() {
        let wasm = wat::parse_str(GUEST).expect("test module");
        let engine = WasmtimeEngine::with_config(&EngineConfig::new().with_fuel_metering(true))
            .expect("engine");
        let compiled = engine.compile(&wasm).expect("compiles");
        let loaded = reload(&engine, &wasm, &compiled);
        let limits = Limits::default()
            .with_fuel(Some(10_000))
            .with_max_memory_bytes(2 * 65_536);
        let config = InstanceConfig::new().with_limits(limits);
        for module in [&compiled, &loaded] {
            let mut instance = module.instantiate(&config).expect("instantiates");
            use refill_core::Instance;
            assert_eq!(instance.call("add", &[2, 3]).expect("add"), 10);
            assert_eq!(instance.call("spin", &[100]).expect("spin"), 1);
            let fuel = instance.call("spin", &[1 << 40]).expect_err("out of fuel");
            assert_eq!(fuel.kind(), ErrorKind::CpuBudgetExhausted);
            assert_eq!(instance.call("grow", &[1]).expect("grow"), 1);
            let memory = instance.call("grow", &[1]).expect_err("past the limit");
            assert_eq!(memory.kind(), ErrorKind::MemoryLimitExceeded);
        }
        assert_eq!(compiled.imports(), loaded.imports());
    }

    /// An artifact verified for another engine's configuration, or for
    /// another module, is refused before wasmtime sees it.
    #[test]
    fn an_artifact_of_another_key_is_refused() {
        let wasm = wat::parse_str(GUEST).expect("test module");
        let plain = WasmtimeEngine::new();
        let metering = WasmtimeEngine::with_config(&EngineConfig::new().with_fuel_metering(true))
            .expect("engine");
        let plain_key = plain.artifact_key(&wasm).expect("key");
        assert_ne!(Some(plain_key.clone()), metering.artifact_key(&wasm));
        let module = plain.compile(&wasm).expect("compiles");
        let envelope = seal(&plain_key, &plain.serialize(&module).expect("serializes"));
        let artifact = VerifiedArtifact::verify(&envelope, &plain_key).expect("verifies");
        let error = metering
            .load(&wasm, artifact)
            .expect_err("other configuration");
        assert_eq!(error.kind(), ErrorKind::InvalidArtifact);
        let artifact = VerifiedArtifact::verify(&envelope, &plain_key).expect("verifies");
        let error = plain
            .load(b"\0asm\x01\0\0\0", artifact)
            .expect_err("other module");
        assert_eq!(error.kind(), ErrorKind::InvalidArtifact);
        let error = metering.serialize(&module).expect_err("other engine");
        assert_eq!(error.kind(), ErrorKind::Unsupported);
    }
}
