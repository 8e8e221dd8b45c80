//! The hashes that name delegates, as freenet-stdlib computes them (blake3):
//! a code hash over the WebAssembly bytes, and a delegate key over the code
//! hash and the parameters.

use core::fmt;

/// The size of every hash and key here.
pub const HASH_LEN: usize = 32;

/// The hash of a delegate's (or contract's) WebAssembly code:
/// `blake3(wasm)`, freenet-stdlib's `CodeHash::from_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CodeHash(pub [u8; HASH_LEN]);

impl CodeHash {
    /// The hash of `wasm`.
    pub fn of(wasm: &[u8]) -> Self {
        Self(*blake3::hash(wasm).as_bytes())
    }
}

impl fmt::Display for CodeHash {
    /// Lowercase hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(f, &self.0)
    }
}

/// A delegate's identity: `blake3(code hash ‖ parameters)` and its code
/// hash, freenet-stdlib's `DelegateKey::from_params_and_code`. Secrets are
/// kept per delegate key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DelegateKey {
    /// The key itself.
    pub key: [u8; HASH_LEN],
    /// The hash of the delegate's code.
    pub code_hash: CodeHash,
}

impl DelegateKey {
    /// The key of the delegate with code hash `code_hash` and `params`.
    pub fn new(code_hash: CodeHash, params: &[u8]) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&code_hash.0);
        hasher.update(params);
        Self {
            key: *hasher.finalize().as_bytes(),
            code_hash,
        }
    }

    /// The key as freenet-stdlib serializes a `DelegateKey` (bincode): the
    /// 32 key bytes, then the 32 code-hash bytes.
    pub fn to_bytes(&self) -> [u8; 2 * HASH_LEN] {
        let mut bytes = [0; 2 * HASH_LEN];
        bytes[..HASH_LEN].copy_from_slice(&self.key);
        bytes[HASH_LEN..].copy_from_slice(&self.code_hash.0);
        bytes
    }
}

impl fmt::Display for DelegateKey {
    /// The key in lowercase hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        hex(f, &self.key)
    }
}

fn hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_code_then_parameters() {
        let code = CodeHash::of(b"\0asm\x01\0\0\0");
        assert_eq!(code.0, *blake3::hash(b"\0asm\x01\0\0\0").as_bytes());
        let key = DelegateKey::new(code, b"params");
        let mut joined = code.0.to_vec();
        joined.extend_from_slice(b"params");
        assert_eq!(key.key, *blake3::hash(&joined).as_bytes());
        assert_ne!(key, DelegateKey::new(code, b"other"));
        assert_eq!(key.to_string().len(), 64);
        assert_eq!(&key.to_bytes()[32..], &code.0);
    }
}
