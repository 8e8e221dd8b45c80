//! Instances are isolated: streams and memory are reached only through the
//! calling instance's own host state, never through a value a guest chose.

use std::sync::Barrier;

use refill::{
    Engine, EngineKind, ErrorKind, Instance, InstanceConfig, InstanceExt, Module, Result,
    StreamOptions,
};
use refill_conformance::{generated, generated_digest};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::{FORGER, kind_of, wat};

const THREADS: usize = 4;
const HONEST_PER_THREAD: u64 = 3;
const ROUNDS: u64 = 3;

/// Many instances stream distinct payloads on several threads at once while
/// forging guests name the honest instances' ids: every forger gets
/// `WrongInstanceId`, every honest digest is right, no data crosses over.
#[apply(engines)]
fn many_instances_on_many_threads_never_cross_talk(#[case] engine: EngineKind) -> Result<()> {
    let any = refill::AnyEngine::new(engine)?;
    let digest = any.compile(refill_fixtures::DIGEST.wasm)?;
    let forger = any.compile(&wat(FORGER))?;
    for round in 0..ROUNDS {
        let start = Barrier::new(THREADS);
        std::thread::scope(|scope| -> Result<()> {
            let workers: Vec<_> = (0..THREADS as u64)
                .map(|t| {
                    let (digest, forger, start) = (&digest, &forger, &start);
                    scope.spawn(move || -> Result<()> {
                        // Explicit ids far above the counter's, so no
                        // forger can be given a victim's id by chance.
                        let config = InstanceConfig::new().with_chunk_size(4096);
                        let mut honest = Vec::new();
                        for k in 0..HONEST_PER_THREAD {
                            honest.push(digest.instantiate(&config.clone().with_instance_id(
                                (1 << 40) + (round * 1000 + t * 10 + k) as i64,
                            ))?);
                        }
                        let mut forging = forger.instantiate(&InstanceConfig::new())?;
                        start.wait();
                        for (k, instance) in honest.iter_mut().enumerate() {
                            let seed = round * 1000 + t * 10 + k as u64;
                            let len = 200_000 + seed * 13;
                            // The forger strikes between the honest refills.
                            let buf = forging
                                .open_stream(generated(seed, 10_000), StreamOptions::new())?;
                            let victim = instance.instance_id();
                            let forged = forging.call("forge", &[buf, victim]);
                            assert_eq!(kind_of(forged), ErrorKind::WrongInstanceId, "{engine}");
                            let result =
                                instance.call_with_streams("digest", [generated(seed, len)])?;
                            assert_eq!(
                                result as u64,
                                generated_digest(seed, len),
                                "{engine} seed {seed}"
                            );
                            assert_eq!(instance.stats().bytes_streamed, len);
                        }
                        Ok(())
                    })
                })
                .collect();
            for worker in workers {
                worker
                    .join()
                    .map_err(|_| refill::Error::trap("a worker thread panicked"))??;
            }
            Ok(())
        })?;
    }
    Ok(())
}
