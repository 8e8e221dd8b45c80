//! `freenet_delegate_management.__frnt__delegate__create_delegate(wasm_ptr:
//! i64, wasm_len: i64, params_ptr: i64, params_len: i64, cipher_ptr: i64,
//! nonce_ptr: i64, out_key_ptr: i64, out_hash_ptr: i64) -> i32`: a delegate
//! creates a child delegate from code and parameters in its memory, with a
//! 32-byte cipher key and a 24-byte nonce; the host registers it in its
//! [`DelegateStore`] and writes the child's 32-byte key and 32-byte code
//! hash, computed as freenet-core does ([`DelegateKey::new`] over
//! [`CodeHash::of`] the code).
//!
//! Codes: 0 success; -1 outside `process`; -4 a negative length; -9 any
//! range outside guest memory (every one is checked before anything is
//! written); -21 more than `HostLimits::max_creations_per_call` in one call;
//! -22 more than `HostLimits::max_created_delegates` on the host; -23 code
//! larger than `HostLimits::max_delegate_code`; -24 the store refused. The
//! code is not validated here, as freenet-core defers that to the child's
//! first run; -20 (depth) cannot occur, since a child never runs inside its
//! parent's call.

use std::sync::{Arc, Mutex, PoisonError};

use refill_core::{Caller, HostFunctions, Result, StateSlot};

use super::codes::{
    CREATIONS_EXCEEDED, INVALID_PARAM, INVALID_WASM, MEMORY_BOUNDS, NODE_LIMIT_EXCEEDED,
    NOT_IN_PROCESS, STORE_FAILED, SUCCESS,
};
use super::env::InstanceEnv;
use super::{FreenetHost, StoreError};
use crate::key::{CodeHash, DelegateKey, HASH_LEN};

/// The import module.
const MODULE: &str = "freenet_delegate_management";
/// The import's name.
const CREATE_DELEGATE: &str = "__frnt__delegate__create_delegate";

/// A delegate created by another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedDelegate {
    /// Its key (and code hash).
    pub key: DelegateKey,
    /// The delegate that created it.
    pub parent: DelegateKey,
    /// Its code.
    pub code: Vec<u8>,
    /// Its parameters.
    pub params: Vec<u8>,
    /// The XChaCha20-Poly1305 key its secrets are to be kept under.
    pub cipher: [u8; 32],
    /// The nonce that goes with it.
    pub nonce: [u8; 24],
}

/// Where a host registers the delegates its delegates create.
pub trait DelegateStore: Send + Sync {
    /// Registers `delegate`.
    fn register(&self, delegate: CreatedDelegate) -> Result<(), StoreError>;
    /// How many delegates have been registered.
    fn count(&self) -> usize;
}

/// Created delegates kept in host memory.
#[derive(Clone, Debug, Default)]
pub struct MemoryDelegates {
    created: Arc<Mutex<Vec<CreatedDelegate>>>,
}

impl MemoryDelegates {
    /// None yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every delegate created so far, in order.
    pub fn created(&self) -> Vec<CreatedDelegate> {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl DelegateStore for MemoryDelegates {
    fn register(&self, delegate: CreatedDelegate) -> Result<(), StoreError> {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(delegate);
        Ok(())
    }

    fn count(&self) -> usize {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost, env: StateSlot<InstanceEnv>) {
    let store = Arc::clone(&host.delegates);
    let limits = host.limits;
    set.func(
        MODULE,
        CREATE_DELEGATE,
        #[allow(clippy::too_many_arguments)]
        move |caller: &mut Caller<'_>,
              wasm_ptr: i64,
              wasm_len: i64,
              params_ptr: i64,
              params_len: i64,
              cipher_ptr: i64,
              nonce_ptr: i64,
              out_key_ptr: i64,
              out_hash_ptr: i64|
              -> Result<i32> {
            let Some(call) = caller.state(env)?.call else {
                return Ok(NOT_IN_PROCESS);
            };
            if wasm_len < 0 || params_len < 0 {
                return Ok(INVALID_PARAM);
            }
            let all_inside = [
                (wasm_ptr, wasm_len),
                (params_ptr, params_len),
                (cipher_ptr, 32),
                (nonce_ptr, 24),
                (out_key_ptr, HASH_LEN as i64),
                (out_hash_ptr, HASH_LEN as i64),
            ]
            .into_iter()
            .all(|(ptr, len)| caller.range(ptr, len).is_ok());
            if !all_inside {
                return Ok(MEMORY_BOUNDS);
            }
            if call.creations >= limits.max_creations_per_call {
                return Ok(CREATIONS_EXCEEDED);
            }
            if store.count() >= limits.max_created_delegates {
                return Ok(NODE_LIMIT_EXCEEDED);
            }
            if wasm_len > i64::from(limits.max_delegate_code) {
                return Ok(INVALID_WASM);
            }
            // In range (checked above) and within the caps: these reads succeed.
            let code = caller.read_capped(wasm_ptr, wasm_len, limits.max_delegate_code)?;
            let params = caller.read_capped(params_ptr, params_len, u32::MAX)?;
            let mut cipher = [0; 32];
            caller.read_into(cipher_ptr, &mut cipher)?;
            let mut nonce = [0; 24];
            caller.read_into(nonce_ptr, &mut nonce)?;
            let key = DelegateKey::new(CodeHash::of(&code), &params);
            let created = CreatedDelegate {
                key,
                parent: call.key,
                code,
                params,
                cipher,
                nonce,
            };
            if let Err(e) = store.register(created) {
                tracing::warn!(target: "contract", "delegate store: {e}");
                return Ok(STORE_FAILED);
            }
            if let Some(call) = caller.state(env)?.call.as_mut() {
                call.creations += 1;
            }
            caller.write(out_key_ptr, &key.key)?;
            caller.write(out_hash_ptr, &key.code_hash.0)?;
            tracing::info!(target: "contract", parent = %call.key, child = %key, "delegate created a delegate");
            Ok(SUCCESS)
        },
    );
}
