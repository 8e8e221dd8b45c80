#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(any(feature = "oracle", feature = "async"))]
extern crate std;

#[cfg(feature = "async")]
pub mod async_io;
#[cfg(feature = "hostile")]
pub mod hostile;
#[cfg(feature = "oracle")]
pub mod oracle;

use refill_core::abi::HEADER_LEN;
use refill_core::{Result, StreamSource};

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const LANES: usize = 4;
const BLOCK: usize = LANES * 8;

/// A streaming 64-bit digest over four independent lanes of 8-byte words, so
/// a guest can digest at memory speed. Feeding the same bytes in any split
/// gives the same result; the length is mixed in at the end.
#[derive(Clone, Debug)]
pub struct Digest64 {
    lanes: [u64; LANES],
    pending: [u8; BLOCK],
    pending_len: usize,
    total: u64,
}

impl Default for Digest64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Digest64 {
    /// A digest of nothing yet.
    pub const fn new() -> Self {
        Self {
            lanes: [PRIME_1, PRIME_2, PRIME_1 ^ PRIME_2, !PRIME_1],
            pending: [0; BLOCK],
            pending_len: 0,
            total: 0,
        }
    }

    #[inline(always)]
    fn round(lane: u64, word: u64) -> u64 {
        (lane ^ word).wrapping_mul(PRIME_1).rotate_left(29)
    }

    #[inline(always)]
    fn block(lanes: &mut [u64; LANES], block: &[u8]) {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            *lane = Self::round(*lane, u64::from_le_bytes(w));
        }
    }

    /// Feeds the next bytes of the stream.
    pub fn update(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        if self.pending_len > 0 {
            let take = (BLOCK - self.pending_len).min(bytes.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&bytes[..take]);
            self.pending_len += take;
            bytes = &bytes[take..];
            if self.pending_len < BLOCK {
                return;
            }
            let pending = self.pending;
            Self::block(&mut self.lanes, &pending);
            self.pending_len = 0;
        }
        let mut blocks = bytes.chunks_exact(BLOCK);
        for block in &mut blocks {
            Self::block(&mut self.lanes, block);
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    /// The digest of everything fed so far, length included.
    pub fn finish(&self) -> u64 {
        let mut h = self.total.wrapping_mul(PRIME_2);
        for (i, lane) in self.lanes.iter().enumerate() {
            h = Self::round(h, lane.rotate_left(i as u32 * 16));
        }
        for &b in &self.pending[..self.pending_len] {
            h = Self::round(h, u64::from(b));
        }
        h ^= h >> 33;
        h = h.wrapping_mul(PRIME_2);
        h ^ (h >> 29)
    }
}

/// The [`Digest64`] of `bytes`.
pub fn digest(bytes: &[u8]) -> u64 {
    let mut d = Digest64::new();
    d.update(bytes);
    d.finish()
}

/// How three digests are combined by the three-argument fixture.
pub fn combine3(a: u64, b: u64, c: u64) -> u64 {
    a ^ b.rotate_left(21) ^ c.rotate_left(42)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `dst` with the bytes at `offset..offset + dst.len()` of the
/// deterministic payload named by `seed`: byte `p` is byte `p % 8` (little
/// endian) of `splitmix64(seed ^ (p / 8))`.
pub fn fill_generated(seed: u64, offset: u64, dst: &mut [u8]) {
    let mut p = offset;
    let mut out = dst;
    // Leading bytes up to the next word boundary.
    while !out.is_empty() && !p.is_multiple_of(8) {
        out[0] = splitmix64(seed ^ (p / 8)).to_le_bytes()[(p % 8) as usize];
        out = &mut out[1..];
        p += 1;
    }
    let mut words = out.chunks_exact_mut(8);
    for word in &mut words {
        word.copy_from_slice(&splitmix64(seed ^ (p / 8)).to_le_bytes());
        p += 8;
    }
    let tail = words.into_remainder();
    if !tail.is_empty() {
        let last = splitmix64(seed ^ (p / 8)).to_le_bytes();
        tail.copy_from_slice(&last[..tail.len()]);
    }
}

/// A whole deterministic payload in memory (for small sizes and expectations).
pub fn generated(seed: u64, len: usize) -> alloc::vec::Vec<u8> {
    let mut v = alloc::vec![0; len];
    fill_generated(seed, 0, &mut v);
    v
}

/// A [`StreamSource`] of a deterministic payload: generated chunk by chunk,
/// never held whole.
#[derive(Clone, Debug)]
pub struct GeneratedSource {
    seed: u64,
    len: u64,
    position: u64,
}

impl GeneratedSource {
    /// The payload of `len` bytes named by `seed`.
    pub fn new(seed: u64, len: u64) -> Self {
        Self {
            seed,
            len,
            position: 0,
        }
    }
}

impl StreamSource for GeneratedSource {
    fn total_len(&self) -> u64 {
        self.len
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        let end = self.position + dst.len() as u64;
        if end > self.len {
            return Err(refill_core::Error::new(
                refill_core::ErrorKind::SourceTruncated,
                alloc::format!("generated payload has only {} bytes", self.len),
            ));
        }
        fill_generated(self.seed, self.position, dst);
        self.position = end;
        Ok(())
    }
}

/// The digest of the generated payload `(seed, len)`, computed in pieces.
pub fn generated_digest(seed: u64, len: u64) -> u64 {
    let mut d = Digest64::new();
    let mut buf = [0u8; 4096];
    let mut at = 0;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        fill_generated(seed, at, &mut buf[..n]);
        d.update(&buf[..n]);
        at += n as u64;
    }
    d.finish()
}

/// Refills a guest needs to read `total_len` bytes with buffers of
/// `chunk_size`, when it stops at `total_len` (refill's reader does): the
/// first chunk carries `chunk_size - 4` bytes after the header, each refill
/// `chunk_size`.
pub fn expected_fills(total_len: u64, chunk_size: u32) -> u64 {
    let first = total_len.min(u64::from(chunk_size - HEADER_LEN));
    (total_len - first).div_ceil(u64::from(chunk_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_does_not_depend_on_the_split() {
        let data = generated(3, 1000);
        let whole = digest(&data);
        for split in [1usize, 3, 7, 31, 32, 33, 500] {
            let mut d = Digest64::new();
            for piece in data.chunks(split) {
                d.update(piece);
            }
            assert_eq!(d.finish(), whole, "split {split}");
        }
    }

    #[test]
    fn digest_sees_length_order_and_content() {
        assert_ne!(digest(&[]), digest(&[0]));
        assert_ne!(digest(&[1, 2]), digest(&[2, 1]));
        let mut a = generated(1, 4096);
        let before = digest(&a);
        a[4000] ^= 1;
        assert_ne!(digest(&a), before);
    }

    #[test]
    fn generation_is_random_access() {
        let whole = generated(9, 100);
        for offset in [0usize, 1, 7, 8, 13, 64] {
            let mut part = alloc::vec![0u8; 100 - offset];
            fill_generated(9, offset as u64, &mut part);
            assert_eq!(&part[..], &whole[offset..], "offset {offset}");
        }
        assert_ne!(generated(9, 16), generated(10, 16));
        assert_eq!(generated_digest(9, 100), digest(&whole));
    }

    #[test]
    fn generated_source_streams_the_same_bytes() {
        let mut s = GeneratedSource::new(4, 50);
        let mut a = [0u8; 20];
        let mut b = [0u8; 30];
        s.read_exact_into(&mut a).unwrap();
        s.read_exact_into(&mut b).unwrap();
        let whole = generated(4, 50);
        assert_eq!((&a[..], &b[..]), (&whole[..20], &whole[20..]));
        assert!(s.read_exact_into(&mut [0u8; 1]).is_err());
    }

    #[test]
    fn fill_counts_follow_the_first_chunk_rule() {
        assert_eq!(expected_fills(0, 16), 0);
        assert_eq!(expected_fills(12, 16), 0);
        assert_eq!(expected_fills(13, 16), 1);
        assert_eq!(expected_fills(28, 16), 1);
        assert_eq!(expected_fills(29, 16), 2);
    }
}
