//! `freenet_rand.__frnt__rand__rand_bytes(id: i64, ptr: i64, len: u32)`:
//! random bytes from a ChaCha20 CSPRNG, seeded from the operating system,
//! or from a fixed seed for tests.

use std::sync::{Arc, Mutex, PoisonError};

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{OsRng, RngCore, SeedableRng};
use refill_core::{Caller, Error, ErrorKind, HostFunctions, Result};

use super::{FreenetHost, check_id};

/// The import module.
const MODULE: &str = "freenet_rand";
/// The import's name.
const RAND_BYTES: &str = "__frnt__rand__rand_bytes";

/// The host's source of random bytes, shared by its instances.
#[derive(Clone, Debug)]
pub struct RandomSource {
    /// `None` until first used when seeded by the operating system, so that
    /// making a host cannot fail; a host that cannot seed a CSPRNG refuses
    /// to serve random bytes instead.
    rng: Arc<Mutex<Option<ChaCha20Rng>>>,
}

impl RandomSource {
    /// A CSPRNG seeded by the operating system (when first used).
    pub fn from_os() -> Self {
        Self {
            rng: Arc::new(Mutex::new(None)),
        }
    }

    /// A deterministic stream for `seed`: the same bytes, in the same
    /// order, on every engine and every run. For tests only.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            rng: Arc::new(Mutex::new(Some(ChaCha20Rng::seed_from_u64(seed)))),
        }
    }

    /// Fills `dst` with the next bytes.
    pub fn fill(&self, dst: &mut [u8]) -> Result<()> {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let rng = match &mut *rng {
            Some(rng) => rng,
            empty => empty.insert(ChaCha20Rng::from_rng(OsRng).map_err(|e| {
                Error::host("the operating system gave no entropy to seed the host's CSPRNG")
                    .with_source(e)
            })?),
        };
        rng.fill_bytes(dst);
        Ok(())
    }
}

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost) {
    let random = host.random.clone();
    let max = host.limits.max_random_bytes;
    set.func(
        MODULE,
        RAND_BYTES,
        move |caller: &mut Caller<'_>, id: i64, ptr: i64, len: u32| -> Result<()> {
            check_id(caller, id)?;
            if len > max {
                return Err(Error::new(
                    ErrorKind::PayloadTooLarge,
                    format!("the guest asked for {len} random bytes, more than the host's {max}"),
                ));
            }
            caller.write_with(ptr, i64::from(len), &mut |dst| random.fill(dst))
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_stream_and_the_os_another() {
        let (mut a, mut b, mut c) = ([0u8; 32], [0u8; 32], [0u8; 32]);
        RandomSource::from_seed(7).fill(&mut a).unwrap();
        RandomSource::from_seed(7).fill(&mut b).unwrap();
        RandomSource::from_os().fill(&mut c).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, [0; 32]);
    }
}
