//! Guest linear memory as the host sees it: bounds-checked reads and writes at
//! guest addresses, with the live size.

use alloc::vec::Vec;

use crate::descriptor::DescriptorBytes;
use crate::error::{Error, ErrorKind, Result};

/// A range of guest memory `[start, start + len)`, proven to lie inside a
/// memory of a given size when built by [`GuestRange::within`]. All arithmetic
/// is in `u64` and checked, so no guest value can wrap it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestRange {
    start: u32,
    len: u32,
}

impl GuestRange {
    /// The range `[addr, addr + len)` if it lies inside a memory of
    /// `memory_size` bytes; `None` if `addr` is negative, past 32 bits, or the
    /// range runs past the end.
    pub fn within(addr: i64, len: u64, memory_size: u64) -> Option<Self> {
        let start = u64::try_from(addr).ok()?;
        let end = start.checked_add(len)?;
        if end > memory_size || end > 1 << 32 {
            return None;
        }
        Some(Self {
            start: u32::try_from(start).ok()?,
            len: u32::try_from(len).ok()?,
        })
    }

    /// First address of the range.
    pub fn start(self) -> u32 {
        self.start
    }

    /// Length of the range in bytes.
    pub fn len(self) -> u32 {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    /// One past the last address of the range.
    pub fn end(self) -> u64 {
        u64::from(self.start) + u64::from(self.len)
    }

    /// Whether the two ranges share at least one byte.
    pub fn overlaps(self, other: GuestRange) -> bool {
        !self.is_empty()
            && !other.is_empty()
            && u64::from(self.start) < other.end()
            && u64::from(other.start) < self.end()
    }

    /// The range as `usize` bounds for indexing a host slice.
    pub fn as_usize_range(self) -> core::ops::Range<usize> {
        self.start as usize..self.end() as usize
    }
}

/// Guest linear memory, adapted by each engine. Every method checks its range
/// against the live size and fails with [`ErrorKind::ResultOutOfBounds`]
/// rather than touching anything outside; callers in `core` also check ranges
/// with [`GuestRange`] before they call, so an engine adapter is a second line
/// of defence, not the only one.
pub trait GuestMemory {
    /// The live size of the memory in bytes.
    fn size(&self) -> u64;

    /// Copies `dst.len()` bytes starting at guest address `addr` into `dst`.
    fn read(&self, addr: u32, dst: &mut [u8]) -> Result<()>;

    /// Copies `src` into guest memory starting at guest address `addr`.
    fn write(&mut self, addr: u32, src: &[u8]) -> Result<()>;

    /// Lends the guest bytes `[addr, addr + len)` mutably to `fill`, so a
    /// source can write straight into guest memory with one copy. `fill` is
    /// not called when the range lies outside the memory.
    fn write_with(
        &mut self,
        addr: u32,
        len: u32,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()>;

    /// Reads a little-endian `u32` at `addr`.
    fn read_u32(&self, addr: u32) -> Result<u32> {
        let mut word = [0u8; 4];
        self.read(addr, &mut word)?;
        Ok(u32::from_le_bytes(word))
    }

    /// Writes a little-endian `u32` at `addr`.
    fn write_u32(&mut self, addr: u32, value: u32) -> Result<()> {
        self.write(addr, &value.to_le_bytes())
    }

    /// Reads the 32 bytes of a buffer descriptor at `addr`. Like
    /// [`GuestMemory::read_u32`] and [`GuestMemory::write_u32`], a fixed-size
    /// access an adapter can serve without a general copy: these three are
    /// what every refill does besides copying its chunk.
    fn read_descriptor(&self, addr: u32) -> Result<DescriptorBytes> {
        let mut bytes: DescriptorBytes = [0; core::mem::size_of::<DescriptorBytes>()];
        self.read(addr, &mut bytes)?;
        Ok(bytes)
    }
}

/// A borrowed memory is a memory: `&mut &mut [u8]` becomes a
/// `&mut dyn GuestMemory`, which a bare slice cannot.
impl<M: GuestMemory + ?Sized> GuestMemory for &mut M {
    fn size(&self) -> u64 {
        (**self).size()
    }

    fn read(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        (**self).read(addr, dst)
    }

    fn write(&mut self, addr: u32, src: &[u8]) -> Result<()> {
        (**self).write(addr, src)
    }

    fn write_with(
        &mut self,
        addr: u32,
        len: u32,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        (**self).write_with(addr, len, fill)
    }

    fn read_u32(&self, addr: u32) -> Result<u32> {
        (**self).read_u32(addr)
    }

    fn write_u32(&mut self, addr: u32, value: u32) -> Result<()> {
        (**self).write_u32(addr, value)
    }

    fn read_descriptor(&self, addr: u32) -> Result<DescriptorBytes> {
        (**self).read_descriptor(addr)
    }
}

/// Checks a guest-supplied range to read back, `[addr, addr + len)`,
/// against a memory of `size` bytes: [`ErrorKind::ResultOutOfBounds`]
/// unless it lies inside.
pub fn result_range(addr: i64, len: u64, size: u64) -> Result<GuestRange> {
    GuestRange::within(addr, len, size).ok_or_else(|| {
        Error::new(
            ErrorKind::ResultOutOfBounds,
            alloc::format!("guest range {addr:#x}+{len} lies outside guest memory of {size} bytes"),
        )
    })
}

/// Copies `len` bytes of guest memory at the guest-supplied `addr` after
/// checking the range against the live size: how hosts read results back.
pub fn read_back(memory: &(impl GuestMemory + ?Sized), addr: i64, len: u64) -> Result<Vec<u8>> {
    let range = result_range(addr, len, memory.size())?;
    let mut out = alloc::vec![0; range.len() as usize];
    memory.read(range.start(), &mut out)?;
    Ok(out)
}

/// The error an adapter returns for a range outside its memory.
pub fn out_of_bounds(addr: u32, len: usize, memory_size: u64) -> Error {
    Error::new(
        ErrorKind::ResultOutOfBounds,
        alloc::format!(
            "guest range {addr:#x}+{len} lies outside guest memory of {memory_size} bytes"
        ),
    )
}

/// Checks `[addr, addr + len)` against a host slice and returns its bounds.
pub fn checked_slice_range(
    addr: u32,
    len: usize,
    memory_len: usize,
) -> Result<core::ops::Range<usize>> {
    let start = addr as usize;
    match start.checked_add(len) {
        Some(end) if end <= memory_len => Ok(start..end),
        _ => Err(out_of_bounds(addr, len, memory_len as u64)),
    }
}

impl GuestMemory for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        let range = checked_slice_range(addr, dst.len(), self.len())?;
        dst.copy_from_slice(&self[range]);
        Ok(())
    }

    fn write(&mut self, addr: u32, src: &[u8]) -> Result<()> {
        let range = checked_slice_range(addr, src.len(), self.len())?;
        self[range].copy_from_slice(src);
        Ok(())
    }

    fn write_with(
        &mut self,
        addr: u32,
        len: u32,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let range = checked_slice_range(addr, len as usize, self.len())?;
        fill(&mut self[range])
    }

    fn read_u32(&self, addr: u32) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array_at(addr)?))
    }

    fn write_u32(&mut self, addr: u32, value: u32) -> Result<()> {
        *self.array_at_mut(addr)? = value.to_le_bytes();
        Ok(())
    }

    fn read_descriptor(&self, addr: u32) -> Result<DescriptorBytes> {
        self.array_at(addr)
    }
}

/// Fixed-size accesses to a host slice, bounds-checked, compiled to plain
/// loads and stores instead of a call to a general copy.
trait FixedAccess {
    fn array_at<const N: usize>(&self, addr: u32) -> Result<[u8; N]>;
    fn array_at_mut<const N: usize>(&mut self, addr: u32) -> Result<&mut [u8; N]>;
}

impl FixedAccess for [u8] {
    fn array_at<const N: usize>(&self, addr: u32) -> Result<[u8; N]> {
        let range = checked_slice_range(addr, N, self.len())?;
        self[range]
            .try_into()
            .map_err(|_| out_of_bounds(addr, N, self.len() as u64))
    }

    fn array_at_mut<const N: usize>(&mut self, addr: u32) -> Result<&mut [u8; N]> {
        let (len, range) = (self.len(), checked_slice_range(addr, N, self.len())?);
        (&mut self[range])
            .try_into()
            .map_err(|_| out_of_bounds(addr, N, len as u64))
    }
}

/// A guest memory held in a host `Vec`: for tests, fuzzing and hosts that
/// simulate a guest.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VecMemory(pub Vec<u8>);

impl VecMemory {
    /// A zeroed memory of `size` bytes.
    pub fn zeroed(size: usize) -> Self {
        Self(alloc::vec![0; size])
    }
}

impl GuestMemory for VecMemory {
    fn size(&self) -> u64 {
        self.0.as_slice().size()
    }

    fn read(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        self.0.as_slice().read(addr, dst)
    }

    fn write(&mut self, addr: u32, src: &[u8]) -> Result<()> {
        self.0.as_mut_slice().write(addr, src)
    }

    fn write_with(
        &mut self,
        addr: u32,
        len: u32,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        self.0.as_mut_slice().write_with(addr, len, fill)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_within_rejects_negative_wrapping_and_past_end() {
        assert_eq!(GuestRange::within(-1, 4, 100), None);
        assert_eq!(GuestRange::within(i64::MAX, 4, u64::MAX), None);
        assert_eq!(GuestRange::within(96, 5, 100), None);
        assert_eq!(GuestRange::within(1 << 32, 0, u64::MAX), None);
        assert_eq!(GuestRange::within(u32::MAX as i64, 2, u64::MAX), None);
        let r = GuestRange::within(96, 4, 100).unwrap();
        assert_eq!((r.start(), r.len(), r.end()), (96, 4, 100));
        assert!(GuestRange::within(100, 0, 100).unwrap().is_empty());
    }

    #[test]
    fn overlap_is_shared_bytes_only() {
        let a = GuestRange::within(0, 8, 100).unwrap();
        let b = GuestRange::within(8, 8, 100).unwrap();
        let c = GuestRange::within(7, 2, 100).unwrap();
        let empty = GuestRange::within(4, 0, 100).unwrap();
        assert!(!a.overlaps(b));
        assert!(a.overlaps(c) && c.overlaps(b));
        assert!(!a.overlaps(empty));
    }

    #[test]
    fn vec_memory_checks_every_access() {
        let mut m = VecMemory::zeroed(16);
        m.write_u32(12, 0xDEAD_BEEF).unwrap();
        assert_eq!(m.read_u32(12).unwrap(), 0xDEAD_BEEF);
        assert_eq!(
            m.write_u32(13, 1).unwrap_err().kind(),
            ErrorKind::ResultOutOfBounds
        );
        assert_eq!(
            m.read(u32::MAX, &mut [0; 2]).unwrap_err().kind(),
            ErrorKind::ResultOutOfBounds
        );
        let mut seen = 0;
        let got = m.write_with(0, 4, &mut |dst| {
            dst.copy_from_slice(b"abcd");
            seen = dst.len();
            Ok(())
        });
        assert!(got.is_ok() && seen == 4);
        assert_eq!(&m.0[..4], b"abcd");
        let mut called = false;
        assert!(
            m.write_with(14, 4, &mut |_| {
                called = true;
                Ok(())
            })
            .is_err()
        );
        assert!(!called, "the closure never sees an out-of-range slice");
    }

    #[test]
    fn read_back_checks_guest_supplied_ranges() {
        let m = VecMemory(alloc::vec![1, 2, 3, 4]);
        assert_eq!(read_back(&m, 1, 3).unwrap(), alloc::vec![2, 3, 4]);
        for (addr, len) in [(-1, 1), (2, 3), (0, u64::MAX), (i64::MAX, 1)] {
            let e = read_back(&m, addr, len).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ResultOutOfBounds, "{addr} {len}");
        }
    }
}
