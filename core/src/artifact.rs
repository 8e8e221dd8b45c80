//! Compiled modules saved as artifacts, and the envelope that lets an engine
//! load one back without trusting the bytes on disk.
//!
//! An engine that compiles ahead of time (wasmtime, wasmer) can serialize a
//! compiled module and load it back much faster than it compiles. Its
//! loader is `unsafe`: it maps the bytes as machine code and trusts them to
//! be its own serializer's output. refill therefore never hands it bytes
//! that were not checked against an envelope it wrote itself:
//!
//! ```text
//! offset      size  field
//! 0           8     magic  b"REFILLAR"
//! 8           4     format version (u32, little-endian): FORMAT_VERSION
//! 12          4     key length K (u32, little-endian)
//! 16          K     the ArtifactKey (ArtifactKey::to_bytes)
//! 16 + K      8     payload length N (u64, little-endian)
//! 24 + K      32    BLAKE3 hash of the payload
//! 56 + K      N     payload: the engine's own serialized module
//! ```
//!
//! [`VerifiedArtifact::verify`] checks every field against the key the
//! caller expects (engine, engine version, refill version, configuration,
//! target, BLAKE3 hash of the wasm) and the file's exact length and checksum.
//! A [`VerifiedArtifact`] can be obtained in no other way, and an engine's
//! [`Artifacts::load`] takes nothing else: a corrupt, truncated, foreign or
//! stale file is a [`Rejection`] and never reaches the engine's
//! deserializer. What this does not protect against is someone who can
//! write the files: see `docs/security.md`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::hash::Hasher;

use crate::engine::Engine;
use crate::error::{Error, ErrorKind, Result};

/// The first bytes of every artifact envelope.
pub const MAGIC: [u8; 8] = *b"REFILLAR";

/// The version of the envelope's layout (not of the engines' payloads,
/// which the key covers).
pub const FORMAT_VERSION: u32 = 2;

/// refill's version, part of every key: artifacts of another refill are
/// stale.
pub const REFILL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The target triple refill is built for (from cargo), part of every key.
pub const TARGET: &str = env!("REFILL_TARGET");

/// The bytes of the envelope before the key.
const HEAD_BYTES: usize = MAGIC.len() + 4 + 4;
/// The bytes of the envelope between the key and the payload.
const PAYLOAD_HEAD_BYTES: usize = 8 + 32;

/// Everything an artifact's validity depends on: two keys are equal exactly
/// when an artifact made under one may be loaded under the other.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ArtifactKey {
    engine: String,
    engine_version: String,
    refill_version: String,
    config: String,
    target: String,
    wasm_hash: [u8; 32],
}

/// One field of an [`ArtifactKey`], named by a [`Rejection::KeyMismatch`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyField {
    /// The engine's name.
    Engine,
    /// The engine's version and build.
    EngineVersion,
    /// refill's version.
    RefillVersion,
    /// The engine's configuration.
    Config,
    /// The target and its CPU features.
    Target,
    /// The BLAKE3 hash of the WebAssembly binary.
    Wasm,
    /// The envelope's key could not be read at all.
    Malformed,
}

impl KeyField {
    /// What the field holds, for messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Engine => "engine",
            Self::EngineVersion => "engine version",
            Self::RefillVersion => "refill version",
            Self::Config => "engine configuration",
            Self::Target => "target",
            Self::Wasm => "module (wasm hash)",
            Self::Malformed => "key encoding",
        }
    }
}

impl ArtifactKey {
    /// The key of `wasm` compiled by the engine `engine` of version
    /// `engine_version` with `config` for `target` (both as the engine
    /// spells them: whatever changes its code must be in one of them), by
    /// this version of refill ([`REFILL_VERSION`]).
    pub fn new(
        engine: &str,
        engine_version: impl Into<String>,
        config: impl Into<String>,
        target: impl Into<String>,
        wasm: &[u8],
    ) -> Self {
        Self {
            engine: engine.into(),
            engine_version: engine_version.into(),
            refill_version: REFILL_VERSION.into(),
            config: config.into(),
            target: target.into(),
            wasm_hash: *blake3::hash(wasm).as_bytes(),
        }
    }

    /// The engine's name.
    pub fn engine(&self) -> &str {
        &self.engine
    }

    /// The engine's version and build.
    pub fn engine_version(&self) -> &str {
        &self.engine_version
    }

    /// The refill version the artifact was made by.
    pub fn refill_version(&self) -> &str {
        &self.refill_version
    }

    /// The engine's configuration, as the engine spells it.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// The target and its CPU features, as the engine spells them.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The BLAKE3 hash of the WebAssembly binary.
    pub fn wasm_hash(&self) -> &[u8; 32] {
        &self.wasm_hash
    }

    /// The key as it is stored in an envelope: each text field as a
    /// little-endian `u32` length and its UTF-8 bytes, in declaration
    /// order, then the 32 bytes of the wasm's BLAKE3 hash.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for field in self.text_fields() {
            bytes.extend_from_slice(&(field.len() as u32).to_le_bytes());
            bytes.extend_from_slice(field.as_bytes());
        }
        bytes.extend_from_slice(&self.wasm_hash);
        bytes
    }

    /// The BLAKE3 hash of [`ArtifactKey::to_bytes`], in lowercase hex: a
    /// name for the artifact's file.
    pub fn file_stem(&self) -> String {
        hex(blake3::hash(&self.to_bytes()).as_bytes())
    }

    fn text_fields(&self) -> [&str; 5] {
        [
            &self.engine,
            &self.engine_version,
            &self.refill_version,
            &self.config,
            &self.target,
        ]
    }

    /// The first field in which `stored` (an envelope's key bytes) differs
    /// from this key, or `None` if it is this key exactly.
    fn first_difference(&self, mut stored: &[u8]) -> Option<KeyField> {
        let fields = [
            KeyField::Engine,
            KeyField::EngineVersion,
            KeyField::RefillVersion,
            KeyField::Config,
            KeyField::Target,
        ];
        for (field, expected) in fields.into_iter().zip(self.text_fields()) {
            let Some((len, rest)) = split_u32(stored) else {
                return Some(KeyField::Malformed);
            };
            let Some((value, rest)) = split_at(rest, len as usize) else {
                return Some(KeyField::Malformed);
            };
            if value != expected.as_bytes() {
                return Some(field);
            }
            stored = rest;
        }
        match stored.len() {
            32 if stored == self.wasm_hash => None,
            32 => Some(KeyField::Wasm),
            _ => Some(KeyField::Malformed),
        }
    }
}

impl fmt::Debug for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactKey")
            .field("engine", &self.engine)
            .field("engine_version", &self.engine_version)
            .field("refill_version", &self.refill_version)
            .field("config", &self.config)
            .field("target", &self.target)
            .field("wasm_hash", &hex(&self.wasm_hash))
            .finish()
    }
}

/// Why an envelope was refused: its bytes never reach an engine.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The file does not start with [`MAGIC`]: not a refill artifact.
    BadMagic,
    /// The envelope's layout is of another version of refill.
    UnsupportedFormat {
        /// The version the file declares.
        found: u32,
    },
    /// The file ends before its key, its header or its declared payload.
    Truncated,
    /// The file is an artifact of something else: another engine, engine
    /// version, refill version, configuration, target or module.
    KeyMismatch(KeyField),
    /// The file is longer than its declared payload.
    TrailingBytes,
    /// The payload's BLAKE3 hash is not the one recorded: the file is corrupt.
    ChecksumMismatch,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => f.write_str("not a refill artifact (bad magic)"),
            Self::UnsupportedFormat { found } => write!(
                f,
                "artifact format {found}, this refill reads format {FORMAT_VERSION}"
            ),
            Self::Truncated => f.write_str("artifact truncated"),
            Self::KeyMismatch(field) => write!(
                f,
                "artifact made for another {} (stale or foreign file)",
                field.as_str()
            ),
            Self::TrailingBytes => f.write_str("artifact longer than its declared payload"),
            Self::ChecksumMismatch => f.write_str("artifact payload corrupt (hash mismatch)"),
        }
    }
}

impl core::error::Error for Rejection {}

impl From<Rejection> for Error {
    fn from(rejection: Rejection) -> Self {
        Error::new(ErrorKind::InvalidArtifact, format!("{rejection}")).with_source(rejection)
    }
}

/// Wraps an engine's serialized module (`payload`) in an envelope for
/// `key` (the layout is in the module docs).
pub fn seal(key: &ArtifactKey, payload: &[u8]) -> Vec<u8> {
    let key = key.to_bytes();
    let mut envelope =
        Vec::with_capacity(HEAD_BYTES + key.len() + PAYLOAD_HEAD_BYTES + payload.len());
    envelope.extend_from_slice(&MAGIC);
    envelope.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    envelope.extend_from_slice(&(key.len() as u32).to_le_bytes());
    envelope.extend_from_slice(&key);
    envelope.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    envelope.extend_from_slice(blake3::hash(payload).as_bytes());
    envelope.extend_from_slice(payload);
    envelope
}

/// An engine's serialized module whose envelope was checked against an
/// expected [`ArtifactKey`]: its payload is, byte for byte, what the
/// engine's own serializer wrote for that key. Only
/// [`VerifiedArtifact::verify`] makes one.
pub struct VerifiedArtifact<'a> {
    key: ArtifactKey,
    payload: &'a [u8],
}

impl<'a> VerifiedArtifact<'a> {
    /// Checks `envelope` against `expected`: magic, format version, the
    /// whole key, the payload's length (the file must end exactly after
    /// it) and its BLAKE3 hash, in that order.
    pub fn verify(envelope: &'a [u8], expected: &ArtifactKey) -> Result<Self, Rejection> {
        let Some((magic, rest)) = split_at(envelope, MAGIC.len()) else {
            return Err(if MAGIC.starts_with(envelope) {
                Rejection::Truncated
            } else {
                Rejection::BadMagic
            });
        };
        if magic != MAGIC {
            return Err(Rejection::BadMagic);
        }
        let (format, rest) = split_u32(rest).ok_or(Rejection::Truncated)?;
        if format != FORMAT_VERSION {
            return Err(Rejection::UnsupportedFormat { found: format });
        }
        let (key_len, rest) = split_u32(rest).ok_or(Rejection::Truncated)?;
        let (key, rest) = split_at(rest, key_len as usize).ok_or(Rejection::Truncated)?;
        if let Some(field) = expected.first_difference(key) {
            return Err(Rejection::KeyMismatch(field));
        }
        let (len, rest) = split_at(rest, 8).ok_or(Rejection::Truncated)?;
        let len = u64::from_le_bytes(len.try_into().map_err(|_| Rejection::Truncated)?);
        let (checksum, payload) = split_at(rest, 32).ok_or(Rejection::Truncated)?;
        match (payload.len() as u64).cmp(&len) {
            core::cmp::Ordering::Less => return Err(Rejection::Truncated),
            core::cmp::Ordering::Greater => return Err(Rejection::TrailingBytes),
            core::cmp::Ordering::Equal => {}
        }
        if blake3::hash(payload).as_bytes()[..] != *checksum {
            return Err(Rejection::ChecksumMismatch);
        }
        Ok(Self {
            key: expected.clone(),
            payload,
        })
    }

    /// The key the artifact was verified against.
    pub fn key(&self) -> &ArtifactKey {
        &self.key
    }

    /// The engine's serialized module.
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

impl fmt::Debug for VerifiedArtifact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedArtifact")
            .field("key", &self.key)
            .field("payload_bytes", &self.payload.len())
            .finish()
    }
}

/// An engine whose compiled modules can be saved as artifacts and loaded
/// back without compiling again: the engine side of a module cache.
pub trait Artifacts: Engine {
    /// The key an artifact of `wasm` compiled by this engine is valid for;
    /// `None` when the engine keeps no artifacts, and a cache simply
    /// compiles (wasmi, which translates lazily and has no serialized form;
    /// an engine whose configuration refill cannot see).
    fn artifact_key(&self, wasm: &[u8]) -> Option<ArtifactKey>;

    /// The engine's serialized form of `module` (a payload for [`seal`]);
    /// [`ErrorKind::Unsupported`] on an engine without artifacts.
    fn serialize(&self, module: &Self::Module) -> Result<Vec<u8>>;

    /// The module of `wasm`, loaded from `artifact` instead of compiled: it
    /// behaves exactly as `self.compile(wasm)` would, limits included.
    /// An artifact verified against another key than
    /// `self.artifact_key(wasm)` is [`ErrorKind::InvalidArtifact`];
    /// [`ErrorKind::Unsupported`] on an engine without artifacts.
    fn load(&self, wasm: &[u8], artifact: VerifiedArtifact<'_>) -> Result<Self::Module>;
}

/// Checks that `artifact` was verified against `expected` (this engine's
/// key for the wasm being loaded), for [`Artifacts::load`]: an artifact
/// verified for another engine, configuration or module is refused.
pub fn check_key(artifact: &VerifiedArtifact<'_>, expected: Option<&ArtifactKey>) -> Result<()> {
    match expected {
        Some(expected) => match expected.first_difference(&artifact.key.to_bytes()) {
            None => Ok(()),
            Some(field) => Err(Rejection::KeyMismatch(field).into()),
        },
        None => Err(Error::new(
            ErrorKind::Unsupported,
            "this engine keeps no compiled artifacts",
        )),
    }
}

/// A [`Hasher`] that feeds BLAKE3: turns an engine's `impl Hash`
/// fingerprint (wasmtime's `Engine::precompile_compatibility_hash`, wasmer's
/// `Target`) into text for an [`ArtifactKey`], the same in every process
/// of one build.
#[derive(Clone, Debug, Default)]
pub struct Fingerprint(blake3::Hasher);

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Self {
        Self::default()
    }

    /// The BLAKE3 hash of everything written, in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(self.0.finalize().as_bytes())
    }
}

impl Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The first eight bytes of the BLAKE3 hash (use
    /// [`Fingerprint::to_hex`] for all of it).
    fn finish(&self) -> u64 {
        let digest = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }
}

/// `bytes` in lowercase hex.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

fn split_at(bytes: &[u8], at: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= at).then(|| bytes.split_at(at))
}

fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = split_at(bytes, 4)?;
    Some((u32::from_le_bytes(head.try_into().ok()?), rest))
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    fn key() -> ArtifactKey {
        ArtifactKey::new("wasmtime", "48.0.8", "fuel=off", TARGET, b"\0asm\x01\0\0\0")
    }

    fn envelope() -> Vec<u8> {
        seal(&key(), b"the engine's serialized module")
    }

    fn rejection(bytes: &[u8], expected: &ArtifactKey) -> Rejection {
        VerifiedArtifact::verify(bytes, expected).expect_err("must be rejected")
    }

    /// An envelope made for a key is accepted for that key, and its payload
    /// is the sealed one.
    #[test]
    fn a_sealed_artifact_verifies_against_its_key() {
        let bytes = envelope();
        let artifact = VerifiedArtifact::verify(&bytes, &key()).expect("verifies");
        assert_eq!(artifact.payload(), b"the engine's serialized module");
        assert_eq!(artifact.key(), &key());
        assert!(check_key(&artifact, Some(&key())).is_ok());
        assert_eq!(key().file_stem().len(), 64);
        assert_eq!(key().refill_version(), REFILL_VERSION);
    }

    /// Any flipped byte of the payload is a checksum mismatch; of the
    /// length, truncation or trailing bytes; of the key, a key mismatch.
    #[test]
    fn a_corrupt_payload_is_rejected() {
        let good = envelope();
        let last = good.len() - 1;
        let mut bad = good.clone();
        bad[last] ^= 0x01;
        assert_eq!(rejection(&bad, &key()), Rejection::ChecksumMismatch);
        let mut bad = good.clone();
        bad[good.len() - 20] ^= 0x80;
        assert_eq!(rejection(&bad, &key()), Rejection::ChecksumMismatch);
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(rejection(&longer, &key()), Rejection::TrailingBytes);
        let mut bad_checksum = good;
        let payload_len = b"the engine's serialized module".len();
        let at = bad_checksum.len() - payload_len - 32;
        bad_checksum[at] ^= 0x01;
        assert_eq!(
            rejection(&bad_checksum, &key()),
            Rejection::ChecksumMismatch
        );
    }

    /// Every prefix of an envelope is refused (as truncated, or as not an
    /// artifact when even the magic is cut), never accepted.
    #[test]
    fn a_truncated_artifact_is_rejected() {
        let good = envelope();
        for len in 0..good.len() {
            let got = rejection(&good[..len], &key());
            assert_eq!(got, Rejection::Truncated, "prefix of {len} bytes");
        }
        assert_eq!(rejection(b"", &key()), Rejection::Truncated);
    }

    /// A file that is not an envelope, or one of another format version,
    /// is refused before anything else is read.
    #[test]
    fn foreign_files_and_formats_are_rejected() {
        assert_eq!(rejection(b"\0asm\x01\0\0\0", &key()), Rejection::BadMagic);
        let mut bad = envelope();
        bad[0] = b'X';
        assert_eq!(rejection(&bad, &key()), Rejection::BadMagic);
        // Format 1 (SHA-256 checksums) and a future one alike.
        for found in [1, FORMAT_VERSION + 1] {
            let mut other_format = envelope();
            other_format[8..12].copy_from_slice(&found.to_le_bytes());
            assert_eq!(
                rejection(&other_format, &key()),
                Rejection::UnsupportedFormat { found }
            );
        }
    }

    /// An artifact of another engine, engine version, configuration,
    /// target, refill version or module is refused, naming the field.
    #[test]
    fn an_artifact_for_another_key_is_rejected() {
        let bytes = envelope();
        let wasm = b"\0asm\x01\0\0\0";
        let cases = [
            (
                ArtifactKey::new("wasmer", "48.0.8", "fuel=off", TARGET, wasm),
                KeyField::Engine,
            ),
            (
                ArtifactKey::new("wasmtime", "48.0.9", "fuel=off", TARGET, wasm),
                KeyField::EngineVersion,
            ),
            (
                ArtifactKey::new("wasmtime", "48.0.8", "fuel=on", TARGET, wasm),
                KeyField::Config,
            ),
            (
                ArtifactKey::new("wasmtime", "48.0.8", "fuel=off", "riscv64gc", wasm),
                KeyField::Target,
            ),
            (
                ArtifactKey::new("wasmtime", "48.0.8", "fuel=off", TARGET, b"\0asm"),
                KeyField::Wasm,
            ),
            (
                ArtifactKey {
                    refill_version: "0.0.0".into(),
                    ..key()
                },
                KeyField::RefillVersion,
            ),
        ];
        for (other, field) in cases {
            assert_eq!(rejection(&bytes, &other), Rejection::KeyMismatch(field));
            assert_ne!(other.file_stem(), key().file_stem());
            let artifact = VerifiedArtifact::verify(&bytes, &key()).expect("verifies");
            let error = check_key(&artifact, Some(&other)).expect_err("other key");
            assert_eq!(error.kind(), ErrorKind::InvalidArtifact);
        }
        let mut garbled = bytes.clone();
        garbled[12..16].copy_from_slice(&3u32.to_le_bytes());
        assert_eq!(
            rejection(&garbled, &key()),
            Rejection::KeyMismatch(KeyField::Malformed)
        );
    }

    /// A rejection becomes refill's error of kind `InvalidArtifact`, its
    /// message saying why.
    #[test]
    fn rejections_are_invalid_artifact_errors() {
        let error = Error::from(Rejection::KeyMismatch(KeyField::Config));
        assert_eq!(error.kind(), ErrorKind::InvalidArtifact);
        assert!(
            error.to_string().contains("engine configuration"),
            "{error}"
        );
        let unsupported = check_key(
            &VerifiedArtifact::verify(&envelope(), &key()).expect("verifies"),
            None,
        )
        .expect_err("no artifacts");
        assert_eq!(unsupported.kind(), ErrorKind::Unsupported);
    }

    /// The fingerprint of equal values is equal, of different ones not.
    #[test]
    fn fingerprints_hash_values_into_blake3() {
        let of = |value: &(&str, u32)| {
            let mut print = Fingerprint::new();
            core::hash::Hash::hash(value, &mut print);
            print.to_hex()
        };
        assert_eq!(of(&("x86_64", 1)), of(&("x86_64", 1)));
        assert_ne!(of(&("x86_64", 1)), of(&("x86_64", 2)));
        assert_eq!(of(&("a", 0)).len(), 64);
        assert_eq!(hex(&[0x0f, 0xa0]), "0fa0".to_string());
    }
}
