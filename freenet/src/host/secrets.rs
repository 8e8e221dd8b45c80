//! `freenet_delegate_secrets`: secrets a delegate keeps across all of its
//! calls, scoped by its delegate key, in the host's [`SecretStore`].
//!
//! | import | type | returns |
//! | --- | --- | --- |
//! | `__frnt__delegate__get_secret_len` | `(key_ptr: i64, key_len: i32) -> i32` | the secret's length |
//! | `__frnt__delegate__get_secret` | `(key_ptr: i64, key_len: i32, out_ptr: i64, out_len: i32) -> i32` | writes the secret at `out_ptr`, returns its length |
//! | `__frnt__delegate__set_secret` | `(key_ptr: i64, key_len: i32, val_ptr: i64, val_len: i32) -> i32` | stores it, returns 0 |
//! | `__frnt__delegate__has_secret` | `(key_ptr: i64, key_len: i32) -> i32` | 1 or 0 |
//! | `__frnt__delegate__remove_secret` | `(key_ptr: i64, key_len: i32) -> i32` | 0 |
//! | `__frnt__delegate__list_secrets_len` | `(prefix_ptr: i64, prefix_len: i32) -> i32` | the length of the key list |
//! | `__frnt__delegate__list_secrets` | `(prefix_ptr: i64, prefix_len: i32, out_ptr: i64, out_len: i32) -> i32` | writes the key list (`[u32 LE len][key]` per key, sorted), returns its length |
//!
//! Codes: -1 outside `process`, -2 no such secret, -3 the store failed or
//! refused (a quota), -4 a negative length or a key or value longer than the
//! host accepts, -6 the output buffer is too small, -9 a range outside guest
//! memory. Nothing is written to guest memory unless the call succeeds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use refill_core::{Caller, HostFunctions, Result, StateSlot};

use super::codes::{
    BUFFER_TOO_SMALL, INVALID_PARAM, MEMORY_BOUNDS, NOT_IN_PROCESS, SECRET_NOT_FOUND,
    STORAGE_FAILED, SUCCESS,
};
use super::env::InstanceEnv;
use super::{FreenetHost, StoreError, code, read_arg};
use crate::key::DelegateKey;

/// The import module.
const MODULE: &str = "freenet_delegate_secrets";

/// Where a host keeps delegates' secrets. Keys are scoped by the delegate's
/// key: one delegate never sees another's.
pub trait SecretStore: Send + Sync {
    /// The secret `key` of `delegate`, if it has one.
    fn get(&self, delegate: &DelegateKey, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Stores (or replaces) the secret.
    fn set(&self, delegate: &DelegateKey, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes the secret; `false` if there was none.
    fn remove(&self, delegate: &DelegateKey, key: &[u8]) -> Result<bool, StoreError>;
    /// Up to `limit` of `delegate`'s keys that start with `prefix`, sorted.
    fn list(
        &self,
        delegate: &DelegateKey,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError>;
    /// How many secrets `delegate` has.
    fn count(&self, delegate: &DelegateKey) -> Result<usize, StoreError>;
}

/// Each secret's value, by its delegate and key.
type SecretMap = BTreeMap<(DelegateKey, Vec<u8>), Vec<u8>>;

/// Secrets in host memory, gone with the host.
#[derive(Clone, Debug, Default)]
pub struct MemorySecrets {
    secrets: Arc<Mutex<SecretMap>>,
}

impl MemorySecrets {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, SecretMap> {
        self.secrets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SecretStore for MemorySecrets {
    fn get(&self, delegate: &DelegateKey, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map().get(&(*delegate, key.to_vec())).cloned())
    }

    fn set(&self, delegate: &DelegateKey, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.map().insert((*delegate, key.to_vec()), value.to_vec());
        Ok(())
    }

    fn remove(&self, delegate: &DelegateKey, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.map().remove(&(*delegate, key.to_vec())).is_some())
    }

    fn list(
        &self,
        delegate: &DelegateKey,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self
            .map()
            .range((*delegate, prefix.to_vec())..)
            .take_while(|((d, k), _)| d == delegate && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), _)| k.clone())
            .collect())
    }

    fn count(&self, delegate: &DelegateKey) -> Result<usize, StoreError> {
        Ok(self
            .map()
            .range((*delegate, Vec::new())..)
            .take_while(|((d, _), _)| d == delegate)
            .count())
    }
}

/// The key list as freenet-stdlib's `encode_secret_key_list` writes it.
pub fn encode_key_list(keys: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for key in keys {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
    }
    out
}

/// A delegate import's outcome: a code for the guest, or a host failure
/// that traps.
type Code = Result<i32>;

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost, env: StateSlot<InstanceEnv>) {
    let limits = host.limits;
    // The caller's delegate key, or the code to return.
    let delegate = move |caller: &mut Caller<'_>| -> Result<Result<DelegateKey, i32>> {
        Ok(caller
            .state(env)?
            .call
            .map(|call| call.key)
            .ok_or(NOT_IN_PROCESS))
    };
    // The key argument: at most `max_secret_key` bytes of guest memory.
    let key_arg = move |caller: &mut Caller<'_>, ptr: i64, len: i32| {
        read_arg(caller, ptr, len.into(), limits.max_secret_key)
    };
    // The caller's delegate key and the key argument, or the code to return,
    // for the imports that take no other argument.
    let secret = move |caller: &mut Caller<'_>,
                       ptr: i64,
                       len: i32|
          -> Result<Result<(DelegateKey, Vec<u8>), i32>> {
        Ok(delegate(caller)?.and_then(|delegate| Ok((delegate, key_arg(caller, ptr, len)?))))
    };

    let store = Arc::clone(&host.secrets);
    set.func(
        MODULE,
        "__frnt__delegate__get_secret_len",
        move |caller: &mut Caller<'_>, key_ptr: i64, key_len: i32| -> Code {
            let (delegate, key) = match secret(caller, key_ptr, key_len)? {
                Ok(secret) => secret,
                Err(c) => return Ok(c),
            };
            Ok(match store.get(&delegate, &key) {
                Ok(Some(value)) => code(value.len()),
                Ok(None) => SECRET_NOT_FOUND,
                Err(e) => store_failed(&e),
            })
        },
    );

    let store = Arc::clone(&host.secrets);
    set.func(
        MODULE,
        "__frnt__delegate__get_secret",
        move |caller: &mut Caller<'_>,
              key_ptr: i64,
              key_len: i32,
              out_ptr: i64,
              out_len: i32|
              -> Code {
            let delegate = match delegate(caller)? {
                Ok(d) => d,
                Err(c) => return Ok(c),
            };
            let Ok(out_len) = usize::try_from(out_len) else {
                return Ok(INVALID_PARAM);
            };
            let key = match key_arg(caller, key_ptr, key_len) {
                Ok(k) => k,
                Err(c) => return Ok(c),
            };
            let value = match store.get(&delegate, &key) {
                Ok(Some(value)) => value,
                Ok(None) => return Ok(SECRET_NOT_FOUND),
                Err(e) => return Ok(store_failed(&e)),
            };
            if value.len() > out_len {
                return Ok(BUFFER_TOO_SMALL);
            }
            Ok(match caller.write(out_ptr, &value) {
                Ok(()) => code(value.len()),
                Err(_) => MEMORY_BOUNDS,
            })
        },
    );

    let store = Arc::clone(&host.secrets);
    set.func(
        MODULE,
        "__frnt__delegate__set_secret",
        move |caller: &mut Caller<'_>,
              key_ptr: i64,
              key_len: i32,
              val_ptr: i64,
              val_len: i32|
              -> Code {
            let delegate = match delegate(caller)? {
                Ok(d) => d,
                Err(c) => return Ok(c),
            };
            if val_len < 0 {
                return Ok(INVALID_PARAM);
            }
            let key = match key_arg(caller, key_ptr, key_len) {
                Ok(k) => k,
                Err(c) => return Ok(c),
            };
            let value = match read_arg(caller, val_ptr, val_len.into(), limits.max_secret_value) {
                Ok(v) => v,
                Err(c) => return Ok(c),
            };
            let is_new = match store.get(&delegate, &key) {
                Ok(existing) => existing.is_none(),
                Err(e) => return Ok(store_failed(&e)),
            };
            if is_new {
                match store.count(&delegate) {
                    Ok(n) if n >= limits.max_secrets => return Ok(STORAGE_FAILED),
                    Ok(_) => {}
                    Err(e) => return Ok(store_failed(&e)),
                }
            }
            Ok(match store.set(&delegate, &key, &value) {
                Ok(()) => SUCCESS,
                Err(e) => store_failed(&e),
            })
        },
    );

    let store = Arc::clone(&host.secrets);
    set.func(
        MODULE,
        "__frnt__delegate__has_secret",
        move |caller: &mut Caller<'_>, key_ptr: i64, key_len: i32| -> Code {
            let (delegate, key) = match secret(caller, key_ptr, key_len)? {
                Ok(secret) => secret,
                Err(c) => return Ok(c),
            };
            Ok(match store.get(&delegate, &key) {
                Ok(found) => i32::from(found.is_some()),
                Err(e) => store_failed(&e),
            })
        },
    );

    let store = Arc::clone(&host.secrets);
    set.func(
        MODULE,
        "__frnt__delegate__remove_secret",
        move |caller: &mut Caller<'_>, key_ptr: i64, key_len: i32| -> Code {
            let (delegate, key) = match secret(caller, key_ptr, key_len)? {
                Ok(secret) => secret,
                Err(c) => return Ok(c),
            };
            Ok(match store.remove(&delegate, &key) {
                Ok(true) => SUCCESS,
                Ok(false) => SECRET_NOT_FOUND,
                Err(e) => store_failed(&e),
            })
        },
    );

    // The serialized key list for a prefix argument, or the code to return.
    let store = Arc::clone(&host.secrets);
    let key_list = move |caller: &mut Caller<'_>, prefix_ptr: i64, prefix_len: i32| {
        let delegate = delegate(caller)?;
        Ok::<_, refill_core::Error>(delegate.and_then(|delegate| {
            let prefix = key_arg(caller, prefix_ptr, prefix_len)?;
            store
                .list(&delegate, &prefix, limits.max_listed_keys)
                .map(|keys| encode_key_list(&keys))
                .map_err(|e| store_failed(&e))
        }))
    };
    let list = key_list.clone();
    set.func(
        MODULE,
        "__frnt__delegate__list_secrets_len",
        move |caller: &mut Caller<'_>, prefix_ptr: i64, prefix_len: i32| -> Code {
            Ok(match list(caller, prefix_ptr, prefix_len)? {
                Ok(bytes) => code(bytes.len()),
                Err(c) => c,
            })
        },
    );
    set.func(
        MODULE,
        "__frnt__delegate__list_secrets",
        move |caller: &mut Caller<'_>,
              prefix_ptr: i64,
              prefix_len: i32,
              out_ptr: i64,
              out_len: i32|
              -> Code {
            let Ok(out_len) = usize::try_from(out_len) else {
                return Ok(INVALID_PARAM);
            };
            let bytes = match key_list(caller, prefix_ptr, prefix_len)? {
                Ok(bytes) => bytes,
                Err(c) => return Ok(c),
            };
            if bytes.len() > out_len {
                return Ok(BUFFER_TOO_SMALL);
            }
            Ok(match caller.write(out_ptr, &bytes) {
                Ok(()) => code(bytes.len()),
                Err(_) => MEMORY_BOUNDS,
            })
        },
    );
}

/// -3, with the store's error in the host's log.
fn store_failed(error: &StoreError) -> i32 {
    tracing::warn!(target: "contract", "secret store: {error}");
    STORAGE_FAILED
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::CodeHash;

    #[test]
    fn memory_secrets_are_scoped_per_delegate_and_listed_sorted() {
        let store = MemorySecrets::new();
        let a = DelegateKey::new(CodeHash::of(b"a"), b"");
        let b = DelegateKey::new(CodeHash::of(b"b"), b"");
        store.set(&a, b"room:2", b"x").unwrap();
        store.set(&a, b"room:1", b"y").unwrap();
        store.set(&a, b"other", b"z").unwrap();
        store.set(&b, b"room:9", b"w").unwrap();
        assert_eq!(
            store.list(&a, b"room:", 10).unwrap(),
            [b"room:1".to_vec(), b"room:2".to_vec()]
        );
        assert_eq!(store.list(&a, b"", 2).unwrap().len(), 2);
        assert_eq!(store.count(&a).unwrap(), 3);
        assert_eq!(store.get(&b, b"room:1").unwrap(), None);
        assert!(store.remove(&a, b"other").unwrap());
        assert!(!store.remove(&a, b"other").unwrap());
        assert_eq!(encode_key_list(&[b"ab".to_vec()]), [2, 0, 0, 0, b'a', b'b']);
    }
}
