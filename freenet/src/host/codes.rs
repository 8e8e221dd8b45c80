//! The return codes of the delegate imports: freenet-stdlib's
//! `delegate_host::error_codes`, the table a delegate is compiled against.
//!
//! One deliberate choice: a guest pointer or length outside guest memory is
//! [`MEMORY_BOUNDS`] (-9) from every delegate import. freenet-core returns
//! -7 for it from the context and secret functions and -9 from the others;
//! in freenet-stdlib's table -7 means "contract not found", so a -7 from
//! `get_contract_state` would mean two things. refill returns -9, the code
//! the stdlib documents, everywhere, so that each code means one thing.

/// Success (or a length or count).
pub const SUCCESS: i32 = 0;
/// Called outside a delegate's `process` call.
pub const NOT_IN_PROCESS: i32 = -1;
/// The secret does not exist.
pub const SECRET_NOT_FOUND: i32 = -2;
/// The secret store failed or refused (a quota).
pub const STORAGE_FAILED: i32 = -3;
/// An invalid parameter: a negative length, an instance id that is not 32
/// bytes, a key or value longer than the host accepts.
pub const INVALID_PARAM: i32 = -4;
/// The context would exceed the largest a delegate may keep.
pub const CONTEXT_TOO_LARGE: i32 = -5;
/// The output buffer is smaller than the data.
pub const BUFFER_TOO_SMALL: i32 = -6;
/// The contract's state is not held by this host.
pub const CONTRACT_NOT_FOUND: i32 = -7;
/// The contract-state store failed.
pub const STORE_ERROR: i32 = -8;
/// A guest pointer or length lies outside guest memory (see the module docs).
pub const MEMORY_BOUNDS: i32 = -9;
/// Delegate creation nested too deep.
pub const DEPTH_EXCEEDED: i32 = -20;
/// Too many delegates created in one `process` call.
pub const CREATIONS_EXCEEDED: i32 = -21;
/// Too many delegates created on this host.
pub const NODE_LIMIT_EXCEEDED: i32 = -22;
/// The new delegate's code is not acceptable (too large).
pub const INVALID_WASM: i32 = -23;
/// Registering the new delegate failed.
pub const STORE_FAILED: i32 = -24;
