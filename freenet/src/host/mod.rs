//! Everything a freenet node serves a guest besides the refill buffer: the
//! contract imports (log, clock, random bytes) and the thirteen delegate
//! imports (context, secrets, contract states, delegate creation), as
//! freenet-stdlib 0.12 declares them and freenet-core serves them. Each
//! import module is one file here; [`FreenetHost::host_functions`] collects
//! them, with refill's own `__frnt__fill_buffer`, into the
//! [`HostFunctions`] a module is linked against.
//!
//! The services behind the imports are traits with an implementation in
//! memory each (and a persistent secret store behind the feature `redb`):
//! the embedder replaces any of them with its own.

pub mod codes;
mod contracts;
mod ctx;
mod env;
mod log;
mod management;
mod rand;
#[cfg(feature = "redb")]
mod redb_secrets;
mod secrets;
mod time;

use core::fmt;
use std::sync::Arc;

use refill_core::{Caller, Error, ErrorKind, HostFunctions, StateSlot};

use self::codes::{INVALID_PARAM, MEMORY_BOUNDS};

pub use self::contracts::{ContractId, ContractStates, MemoryContractStates};
pub use self::env::InstanceEnv;
pub use self::log::{LogRecord, LogSink, MemoryLog, StderrLog, TracingOnly};
pub use self::management::{CreatedDelegate, DelegateStore, MemoryDelegates};
pub use self::rand::RandomSource;
#[cfg(feature = "redb")]
pub use self::redb_secrets::RedbSecrets;
pub use self::secrets::{MemorySecrets, SecretStore, encode_key_list};
pub use self::time::{Clock, DATETIME_LEN, FixedClock, SystemClock, UtcTime, encode_datetime};

/// How much a guest may take of the host through the freenet imports.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostLimits {
    /// The longest log line kept, in bytes; a longer line is truncated.
    /// Default 16 KiB.
    pub max_log_line: u32,
    /// Log bytes one instance may emit; once spent, its lines are dropped
    /// (and counted). Default 1 MiB.
    pub max_log_bytes: u64,
    /// The most random bytes one call may ask for; more traps with
    /// `PayloadTooLarge`. Default 1 MiB.
    pub max_random_bytes: u32,
    /// The largest delegate context, in bytes (freenet-stdlib's
    /// `DelegateContext::MAX_SIZE` less one, what its constructor accepts).
    pub max_context: u32,
    /// The longest secret key. Default 4 KiB.
    pub max_secret_key: u32,
    /// The largest secret value. Default 1 MiB.
    pub max_secret_value: u32,
    /// The most secrets one delegate may keep. Default 4096.
    pub max_secrets: usize,
    /// The most keys one key list holds. Default 4096.
    pub max_listed_keys: usize,
    /// The largest code of a created delegate (freenet-core's 10 MiB).
    pub max_delegate_code: u32,
    /// The most delegates one `process` call may create (freenet-core's 8).
    pub max_creations_per_call: u32,
    /// The most delegates created on this host (freenet-core's 1024).
    pub max_created_delegates: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            max_log_line: 16 << 10,
            max_log_bytes: 1 << 20,
            max_random_bytes: 1 << 20,
            max_context: 4096 * 10 * 10 - 1,
            max_secret_key: 4 << 10,
            max_secret_value: 1 << 20,
            max_secrets: 4096,
            max_listed_keys: 4096,
            max_delegate_code: 10 << 20,
            max_creations_per_call: 8,
            max_created_delegates: 1024,
        }
    }
}

/// A failure of one of the host's stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(String);

impl StoreError {
    /// A store error saying what failed.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

/// A freenet node's host side: the services behind the freenet imports and
/// the limits on what a guest may take of them. Cheap to clone; clones share
/// the services.
#[derive(Clone)]
pub struct FreenetHost {
    log: Arc<dyn LogSink>,
    clock: Arc<dyn Clock>,
    random: RandomSource,
    secrets: Arc<dyn SecretStore>,
    contracts: Arc<dyn ContractStates>,
    delegates: Arc<dyn DelegateStore>,
    limits: HostLimits,
    /// Links modules for async calls.
    is_async: bool,
}

impl fmt::Debug for FreenetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FreenetHost")
            .field("limits", &self.limits)
            .field("is_async", &self.is_async)
            .finish_non_exhaustive()
    }
}

impl Default for FreenetHost {
    fn default() -> Self {
        Self::new()
    }
}

/// The host functions of a [`FreenetHost`] and the per-instance state they
/// keep.
#[derive(Clone, Debug)]
pub struct FreenetImports {
    /// Every import, refill's `__frnt__fill_buffer` included.
    pub functions: HostFunctions,
    /// Each instance's [`InstanceEnv`].
    pub env: StateSlot<InstanceEnv>,
}

impl FreenetHost {
    /// The defaults: the system clock, an OS-seeded CSPRNG, log lines to
    /// `tracing` only, secrets, contract states and created delegates in
    /// memory, [`HostLimits::default`].
    pub fn new() -> Self {
        Self {
            log: Arc::new(TracingOnly),
            clock: Arc::new(SystemClock),
            random: RandomSource::from_os(),
            secrets: Arc::new(MemorySecrets::new()),
            contracts: Arc::new(MemoryContractStates::new()),
            delegates: Arc::new(MemoryDelegates::new()),
            limits: HostLimits::default(),
            is_async: false,
        }
    }

    /// Links modules for async calls too ([`crate::Contract::call_async`];
    /// [`HostFunctions::enable_async`]). Sync calls keep working.
    #[cfg(feature = "async")]
    #[must_use]
    pub fn with_async_calls(mut self) -> Self {
        self.is_async = true;
        self
    }

    /// Sends guest log lines to `sink` too.
    #[must_use]
    pub fn with_log(mut self, sink: impl LogSink + 'static) -> Self {
        self.log = Arc::new(sink);
        self
    }

    /// Uses `clock` for `utc_now`.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Uses `random` for `rand_bytes` ([`RandomSource::from_seed`] for
    /// reproducible tests).
    #[must_use]
    pub fn with_random(mut self, random: RandomSource) -> Self {
        self.random = random;
        self
    }

    /// Keeps delegates' secrets in `store`.
    #[must_use]
    pub fn with_secrets(mut self, store: impl SecretStore + 'static) -> Self {
        self.secrets = Arc::new(store);
        self
    }

    /// Serves contract states to delegates from `states`.
    #[must_use]
    pub fn with_contract_states(mut self, states: impl ContractStates + 'static) -> Self {
        self.contracts = Arc::new(states);
        self
    }

    /// Registers created delegates in `store`.
    #[must_use]
    pub fn with_delegates(mut self, store: impl DelegateStore + 'static) -> Self {
        self.delegates = Arc::new(store);
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: HostLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits.
    pub fn limits(&self) -> HostLimits {
        self.limits
    }

    /// Every import this host serves, bound to its services, and the slot of
    /// each instance's [`InstanceEnv`].
    pub fn imports(&self) -> FreenetImports {
        let mut functions = HostFunctions::new();
        let env = functions.state(InstanceEnv::default);
        log::define(&mut functions, self, env);
        time::define(&mut functions, self);
        rand::define(&mut functions, self);
        ctx::define(&mut functions, self, env);
        secrets::define(&mut functions, self, env);
        contracts::define(&mut functions, self, env);
        management::define(&mut functions, self, env);
        #[cfg(feature = "async")]
        if self.is_async {
            functions.enable_async();
        }
        FreenetImports { functions, env }
    }

    /// Every import this host serves: [`FreenetHost::imports`]' functions.
    pub fn host_functions(&self) -> HostFunctions {
        self.imports().functions
    }
}

/// The `id` a contract import is called with must be the instance's own,
/// or -1 (freenet-stdlib's value before `__frnt_set_id`, as in a module that
/// does not export it). It is never used to find anything: the calling
/// instance is known.
fn check_id(caller: &Caller<'_>, id: i64) -> refill_core::Result<()> {
    if id == caller.instance_id() || id == -1 {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::WrongInstanceId,
            format!(
                "guest passed instance id {id}, its own is {}",
                caller.instance_id()
            ),
        ))
    }
}

/// A length or count as a delegate import returns it (at most `i32::MAX`,
/// which no limit reaches).
fn code(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A delegate import's byte-string argument: [`INVALID_PARAM`] for a
/// negative length or one above `cap`, [`MEMORY_BOUNDS`] for a range
/// outside guest memory.
fn read_arg(caller: &mut Caller<'_>, ptr: i64, len: i64, cap: u32) -> Result<Vec<u8>, i32> {
    if len < 0 {
        return Err(INVALID_PARAM);
    }
    if caller.range(ptr, len).is_err() {
        return Err(MEMORY_BOUNDS);
    }
    caller
        .read_capped(ptr, len, cap)
        .map_err(|e| match e.kind() {
            ErrorKind::PayloadTooLarge => INVALID_PARAM,
            _ => MEMORY_BOUNDS,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_serves_seventeen_imports_with_one_state() {
        let imports = FreenetHost::new().imports();
        // freenet-stdlib's 17, and refill's output import.
        assert_eq!(imports.functions.iter().len(), 18);
        assert!(
            imports
                .functions
                .get(
                    refill_core::abi::OUTPUT_MODULE,
                    refill_core::abi::DRAIN_BUFFER
                )
                .is_some()
        );
        assert_eq!(imports.env.index(), 0);
    }

    /// The signatures engines bind through their typed path.
    macro_rules! typed_signatures {
        ($([$($param:ident: $ty:ident),*] -> [$($result:ident)?];)*) => {
            [$(refill_core::FuncType::new([$(refill_core::ValType::$ty),*], [$(refill_core::ValType::$result)?])),*]
        };
    }

    /// Every import a freenet node serves, and refill's own, takes the
    /// engines' typed path: none pays for the untyped one on every call.
    #[test]
    fn every_import_has_a_typed_signature() {
        let typed = refill_core::for_each_typed_signature!(typed_signatures);
        let imports = FreenetHost::new().imports();
        let fill = refill_core::HostFunctions::new();
        for func in imports.functions.iter().chain(fill.iter()) {
            assert!(
                typed.contains(func.ty()),
                "{}.{} {} is not in for_each_typed_signature!",
                func.module(),
                func.name(),
                func.ty()
            );
        }
    }
}
