//! The bincode 1 layout freenet-stdlib serializes with (default options):
//! little-endian fixed-width integers, `u64` lengths for byte strings and
//! sequences, `u32` enum tags, one byte for `bool` and `Option` tags, fixed
//! arrays as their bytes. Read and written by hand, so refill needs neither
//! freenet-stdlib nor serde; the tests compare with freenet-stdlib itself.

use crate::error::{Error, ErrorKind, Result};

/// A cursor over a serialized value; every read is checked against its
/// length, and a value that does not fit is an [`ErrorKind::InvalidResult`]
/// naming `what` is being read.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: String,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which hold `what` (for messages).
    pub(crate) fn new(bytes: &'a [u8], what: impl Into<String>) -> Self {
        Self {
            bytes,
            at: 0,
            what: what.into(),
        }
    }

    /// An [`ErrorKind::InvalidResult`] saying why the bytes are not `what`.
    pub(crate) fn invalid(&self, why: impl core::fmt::Display) -> Error {
        Error::new(
            ErrorKind::InvalidResult,
            format!(
                "the {} of {} bytes is not a serialized value: {why} (at byte {})",
                self.what,
                self.bytes.len(),
                self.at
            ),
        )
    }

    pub(crate) fn take(&mut self, len: u64) -> Result<&'a [u8]> {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| self.at.checked_add(len))
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| self.invalid(format!("{len} more bytes were expected")))?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N as u64)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.invalid(format!("bool byte {b} is neither 0 nor 1"))),
        }
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A length-prefixed byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = self.u64()?;
        self.take(len)
    }

    pub(crate) fn string(&mut self) -> Result<String> {
        let bytes = self.bytes()?;
        core::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| self.invalid("a string is not UTF-8"))
    }

    /// What is left unread.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }

    pub(crate) fn end(&self) -> Result<()> {
        if self.at == self.bytes.len() {
            Ok(())
        } else {
            Err(self.invalid("bytes follow the value"))
        }
    }
}

/// Appends bincode 1 values to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u32(&mut self, value: u32) -> &mut Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    pub(crate) fn bool(&mut self, value: bool) -> &mut Self {
        self.0.push(u8::from(value));
        self
    }

    /// A length-prefixed byte string.
    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.0
            .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// Raw bytes, as a fixed array is written.
    pub(crate) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.extend_from_slice(bytes);
        self
    }
}
