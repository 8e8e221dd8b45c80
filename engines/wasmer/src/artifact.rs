//! Compiled modules as artifacts: what a wasmer artifact is keyed on,
//! serializing a module, and loading one back (through `unchecked.rs`, the
//! crate's one `unsafe` file), for refill's module cache.
//!
//! A module compiled by refill-wasmer carries, beside wasmer's module, what
//! refill's limiter did to it (`limits::Layout`: where its globals are,
//! whether the start function was deferred) and what it declares
//! (`limits::Declared`). Neither is read from the artifact: both are
//! derived again from the wasm binary (the caller has it; the key holds its
//! BLAKE3 hash), reading section headers only, and then checked against the
//! loaded module's own description.

use std::hash::Hash;

use refill_core::artifact::{
    ArtifactKey, Artifacts, Fingerprint, TARGET, VerifiedArtifact, check_key,
};
use refill_core::{Engine, Error, ErrorKind, Result};
use wasmer::sys::{NativeEngineExt, Target};

use crate::engine::{Backend, Limiting, WasmerEngine, WasmerModule};
use crate::error::engine_error;
use crate::limits::{Declared, LIMITER_REVISION, Layout, singlepass_compiler};
use crate::unchecked::{self, StackTunables};

/// The wasmer refill is built with (pinned with `=` in the workspace).
const WASMER_VERSION: &str = "7.4.2";

impl Artifacts for WasmerEngine {
    /// wasmer's version; refill's configuration (singlepass, fuel metering,
    /// guest stack size, interruption, the limiter's revision); the target
    /// triple and the CPU features singlepass compiles for; the wasm. An
    /// engine from [`WasmerEngine::from_engine`] keeps no artifacts (refill
    /// cannot see its configuration): `None`.
    fn artifact_key(&self, wasm: &[u8]) -> Option<ArtifactKey> {
        let Backend::Singlepass {
            fuel_metering,
            stack_bytes,
        } = &self.backend
        else {
            return None;
        };
        let config = format!(
            "compiler=singlepass fuel_metering={fuel_metering} stack_bytes={stack_bytes} \
             interruption={} limiter={LIMITER_REVISION}",
            self.deadlines.is_some()
        );
        let mut cpu = Fingerprint::new();
        Target::default().hash(&mut cpu);
        let target = format!("{TARGET} target={}", cpu.to_hex());
        Some(ArtifactKey::new(
            self.name(),
            WASMER_VERSION,
            config,
            target,
            wasm,
        ))
    }

    fn serialize(&self, module: &WasmerModule) -> Result<Vec<u8>> {
        if module.limiting.layout.is_none() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a module of an engine from `WasmerEngine::from_engine` keeps no artifact",
            ));
        }
        module
            .module
            .serialize()
            .map(|bytes| bytes.to_vec())
            .map_err(|e| engine_error(ErrorKind::Engine, "wasmer cannot serialize the module", e))
    }

    fn load(&self, wasm: &[u8], artifact: VerifiedArtifact<'_>) -> Result<WasmerModule> {
        let Backend::Singlepass {
            fuel_metering,
            stack_bytes,
        } = &self.backend
        else {
            // Refused: an engine without a key loads nothing.
            check_key(&artifact, None)?;
            return Err(Error::new(
                ErrorKind::Unsupported,
                "an engine from `WasmerEngine::from_engine` loads no artifact",
            ));
        };
        // The engine `compile` would build: same compiler, middlewares and
        // tunables (the middlewares do nothing here: nothing is compiled).
        let (compiler, _limiter) = singlepass_compiler(*fuel_metering);
        let mut engine: wasmer::Engine = compiler.into();
        engine.set_tunables(StackTunables::new(*stack_bytes));
        let module = unchecked::deserialize(&engine, self.artifact_key(wasm).as_ref(), artifact)?;
        let (layout, declared) = (
            Layout::of_binary(wasm, *fuel_metering)?,
            Declared::parse(wasm)?,
        );
        if !layout.matches(module.info(), &declared) {
            return Err(Error::new(
                ErrorKind::InvalidArtifact,
                "the artifact's module is not what refill's limiter makes of this wasm \
                 (an artifact of another limiter revision)",
            ));
        }
        Ok(WasmerModule {
            engine,
            module,
            workers: self.workers.clone(),
            limiting: Limiting {
                layout: Some(layout),
                declared,
                metered: *fuel_metering,
                deadlines: self.deadlines.clone(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use refill_core::artifact::seal;
    use refill_core::{EngineConfig, Instance, InstanceConfig, Limits, Module};

    use super::*;

    /// A start function (sets the global `add` adds), a loop that burns
    /// fuel, memory growth, and an imported global (so that the limiter's
    /// globals do not start at 0).
    const GUEST: &str = r#"(module
      (memory (export "memory") 1)
      (table 2 funcref)
      (global $bias (mut i64) (i64.const 0))
      (global $unused i32 (i32.const 3))
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

    fn reload(engine: &WasmerEngine, wasm: &[u8], module: &WasmerModule) -> Result<WasmerModule> {
        let key = engine
            .artifact_key(wasm)
            .expect("refill's engines keep artifacts");
        let envelope = seal(&key, &engine.serialize(module)?);
        let artifact = VerifiedArtifact::verify(&envelope, &key)?;
        engine.load(wasm, artifact)
    }

    /// A module loaded through `unchecked::deserialize` runs as the
    /// compiled one: same results, the deferred start function run, fuel
    /// and memory limits enforced with the same kinds; the limiter's layout
    /// derived from the binary is the one compiling recorded.
    #[test]
    fn a_loaded_module_behaves_as_the_compiled_one() -> Result<()> {
        let wasm = wat::parse_str(GUEST).expect("test module");
        let engine = WasmerEngine::with_config(&EngineConfig::new().with_fuel_metering(true))?;
        let compiled = engine.compile(&wasm)?;
        let loaded = reload(&engine, &wasm, &compiled)?;
        assert_eq!(compiled.limiting.layout, loaded.limiting.layout);
        assert_eq!(compiled.limiting.declared, loaded.limiting.declared);
        assert_eq!(compiled.imports(), loaded.imports());
        // Without metering the limiter's globals sit elsewhere: found too.
        let plain = WasmerEngine::new();
        let (compiled_plain, loaded_plain) = (plain.compile(&wasm)?, {
            let module = plain.compile(&wasm)?;
            reload(&plain, &wasm, &module)?
        });
        assert_eq!(compiled_plain.limiting.layout, loaded_plain.limiting.layout);
        assert_ne!(compiled_plain.limiting.layout, compiled.limiting.layout);
        let limits = Limits::default()
            .with_fuel(Some(10_000))
            .with_max_memory_bytes(2 * 65_536);
        let config = InstanceConfig::new().with_limits(limits);
        for module in [&compiled, &loaded] {
            let mut instance = module.instantiate(&config)?;
            assert_eq!(instance.call("add", &[2, 3])?, 10);
            assert_eq!(instance.call("spin", &[100])?, 1);
            let fuel = instance.call("spin", &[1 << 40]).expect_err("out of fuel");
            assert_eq!(fuel.kind(), ErrorKind::CpuBudgetExhausted);
            assert_eq!(instance.call("grow", &[1])?, 1);
            let memory = instance.call("grow", &[1]).expect_err("past the limit");
            assert_eq!(memory.kind(), ErrorKind::MemoryLimitExceeded);
        }
        Ok(())
    }

    /// An artifact verified for another configuration or module, or a
    /// module of another binary, is refused before or right after wasmer
    /// sees it; an engine from `from_engine` keeps none.
    #[test]
    fn an_artifact_of_another_key_is_refused() -> Result<()> {
        let wasm = wat::parse_str(GUEST).expect("test module");
        let plain = WasmerEngine::new();
        let metering = WasmerEngine::with_config(&EngineConfig::new().with_fuel_metering(true))?;
        let plain_key = plain.artifact_key(&wasm).expect("key");
        assert_ne!(Some(plain_key.clone()), metering.artifact_key(&wasm));
        let module = plain.compile(&wasm)?;
        let envelope = seal(&plain_key, &plain.serialize(&module)?);
        let artifact = VerifiedArtifact::verify(&envelope, &plain_key)?;
        let error = metering
            .load(&wasm, artifact)
            .expect_err("other configuration");
        assert_eq!(error.kind(), ErrorKind::InvalidArtifact);
        let artifact = VerifiedArtifact::verify(&envelope, &plain_key)?;
        let error = plain
            .load(b"\0asm\x01\0\0\0", artifact)
            .expect_err("other module");
        assert_eq!(error.kind(), ErrorKind::InvalidArtifact);

        let custom = WasmerEngine::from_engine(wasmer::sys::Singlepass::default().into());
        assert!(custom.artifact_key(&wasm).is_none());
        let error = custom.serialize(&custom.compile(&wasm)?).expect_err("none");
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        Ok(())
    }
}
