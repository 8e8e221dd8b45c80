//! Reading one streamed argument in the guest, with guest memory O(chunk).

use alloc::vec::Vec;
use core::fmt;

use super::buffer::{free_buffer, read_cell, read_descriptor};
use crate::abi::HEADER_LEN;

/// Asks the host for the next chunk of a buffer: `__frnt__fill_buffer`.
pub trait Refill {
    /// Refills the buffer whose descriptor is at `descriptor`; returns the
    /// number of bytes now in it, 0 at end of stream.
    fn refill(&mut self, descriptor: i64) -> u32;
}

/// Why a stream could not be read.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// The host reported end of stream before `total_len` bytes arrived.
    Truncated {
        /// The length announced by the header.
        total_len: u32,
        /// The bytes received before end of stream.
        received: u64,
    },
    /// The host delivered more bytes than the header announced.
    Overrun {
        /// The length announced by the header.
        total_len: u32,
    },
    /// The cursors the host set do not describe bytes inside the buffer.
    BadCursors {
        /// The read cursor.
        last_read: u32,
        /// The write cursor.
        last_write: u32,
        /// The data area's capacity.
        capacity: u32,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                total_len,
                received,
            } => write!(
                f,
                "stream truncated: host ended it after {received} of {total_len} bytes"
            ),
            Self::Overrun { total_len } => {
                write!(f, "stream overrun: host sent more than {total_len} bytes")
            }
            Self::BadCursors {
                last_read,
                last_write,
                capacity,
            } => write!(
                f,
                "bad cursors: read {last_read}, write {last_write}, capacity {capacity}"
            ),
        }
    }
}

impl core::error::Error for StreamError {}

#[cfg(feature = "std")]
impl From<StreamError> for std::io::Error {
    fn from(e: StreamError) -> Self {
        let kind = match e {
            StreamError::Truncated { .. } => std::io::ErrorKind::UnexpectedEof,
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

/// Reads one streamed argument: the header first, then each chunk between
/// the cursors, refilling from the host when the buffer is drained, until
/// `total_len` bytes were read. Frees the buffer when dropped.
pub struct StreamReader<R: Refill> {
    descriptor: i64,
    data: *mut u8,
    capacity: u32,
    read_cell: *mut u8,
    write_cell: *mut u8,
    total_len: u32,
    consumed: u64,
    refill: R,
}

impl<R: Refill> fmt::Debug for StreamReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamReader")
            .field("descriptor", &self.descriptor)
            .field("capacity", &self.capacity)
            .field("total_len", &self.total_len)
            .field("consumed", &self.consumed)
            .finish()
    }
}

impl<R: Refill> StreamReader<R> {
    /// A reader of the primed buffer at `descriptor`, refilled by `refill`.
    ///
    /// # Safety
    ///
    /// `descriptor` must come from [`super::allocate_buffer`], be primed by the
    /// host (header written, cursors set) and be read by no other reader;
    /// the reader frees it when dropped.
    pub unsafe fn new(descriptor: i64, refill: R) -> Result<Self, StreamError> {
        // SAFETY: the caller guarantees a live descriptor of ours.
        let d = unsafe { read_descriptor(descriptor) };
        let mut reader = Self {
            descriptor,
            data: d.start as usize as *mut u8,
            capacity: d.capacity,
            read_cell: d.last_read as usize as *mut u8,
            write_cell: d.last_write as usize as *mut u8,
            total_len: 0,
            consumed: 0,
            refill,
        };
        let (last_read, last_write) = reader.cursors()?;
        if last_read != 0 || last_write < HEADER_LEN {
            return Err(reader.bad_cursors(last_read, last_write));
        }
        let mut header = [0u8; HEADER_LEN as usize];
        // SAFETY: cursors() checked last_write <= capacity, and we just
        // checked 4 <= last_write: the header lies inside the data area.
        unsafe {
            core::ptr::copy_nonoverlapping(reader.data, header.as_mut_ptr(), header.len());
        }
        reader.total_len = u32::from_le_bytes(header);
        reader.set_read_cursor(HEADER_LEN);
        Ok(reader)
    }

    /// The length the header announced.
    pub fn total_len(&self) -> u32 {
        self.total_len
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> u64 {
        u64::from(self.total_len) - self.consumed
    }

    /// The next chunk of the stream, borrowed from the buffer without a copy;
    /// `None` once `total_len` bytes were read.
    pub fn next_chunk(&mut self) -> Result<Option<&[u8]>, StreamError> {
        let Some((last_read, last_write)) = self.ensure_available()? else {
            return Ok(None);
        };
        let len = last_write - last_read;
        self.advance(last_read, len);
        // SAFETY: ensure_available() checked last_read < last_write <=
        // capacity; the host wrote these bytes and will not write again until
        // the next refill, which needs `&mut self` and so ends this borrow.
        Ok(Some(unsafe {
            core::slice::from_raw_parts(self.data.add(last_read as usize), len as usize)
        }))
    }

    /// Copies up to `buf.len()` bytes into `buf`; 0 at end of stream.
    pub fn read_into(&mut self, buf: &mut [u8]) -> Result<usize, StreamError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let Some((last_read, last_write)) = self.ensure_available()? else {
            return Ok(0);
        };
        let len = (last_write - last_read).min(u32::try_from(buf.len()).unwrap_or(u32::MAX));
        // SAFETY: as in next_chunk, `len` bytes at `last_read` lie in the
        // written part of the data area; `buf` is a distinct host slice.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.data.add(last_read as usize),
                buf.as_mut_ptr(),
                len as usize,
            );
        }
        self.advance(last_read, len);
        Ok(len as usize)
    }

    /// Appends the rest of the stream to `out` (the freenet pattern; it makes
    /// guest memory O(payload)); returns the bytes appended.
    pub fn read_to_end_into(&mut self, out: &mut Vec<u8>) -> Result<usize, StreamError> {
        let start = out.len();
        out.reserve(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
        while let Some(chunk) = self.next_chunk()? {
            out.extend_from_slice(chunk);
        }
        Ok(out.len() - start)
    }

    /// The cursors, checked to describe bytes inside the data area.
    fn cursors(&self) -> Result<(u32, u32), StreamError> {
        // SAFETY: the cells are 4 bytes of our allocation (see buffer.rs).
        let (last_read, last_write) =
            unsafe { (read_cell(self.read_cell), read_cell(self.write_cell)) };
        if last_read > last_write || last_write > self.capacity {
            return Err(self.bad_cursors(last_read, last_write));
        }
        Ok((last_read, last_write))
    }

    fn bad_cursors(&self, last_read: u32, last_write: u32) -> StreamError {
        StreamError::BadCursors {
            last_read,
            last_write,
            capacity: self.capacity,
        }
    }

    /// Unread bytes as `(last_read, last_write)` with `last_read <
    /// last_write`, refilling first if the buffer is drained; `None` at the
    /// end of the stream.
    fn ensure_available(&mut self) -> Result<Option<(u32, u32)>, StreamError> {
        let (last_read, last_write) = self.cursors()?;
        if last_read < last_write {
            return self.within_total(last_read, last_write);
        }
        if self.remaining() == 0 {
            return Ok(None);
        }
        if self.refill.refill(self.descriptor) == 0 {
            return Err(StreamError::Truncated {
                total_len: self.total_len,
                received: self.consumed,
            });
        }
        let (last_read, last_write) = self.cursors()?;
        if last_read == last_write {
            // The host claimed bytes but the cursors show none.
            return Err(self.bad_cursors(last_read, last_write));
        }
        self.within_total(last_read, last_write)
    }

    fn within_total(
        &self,
        last_read: u32,
        last_write: u32,
    ) -> Result<Option<(u32, u32)>, StreamError> {
        if u64::from(last_write - last_read) > self.remaining() {
            return Err(StreamError::Overrun {
                total_len: self.total_len,
            });
        }
        Ok(Some((last_read, last_write)))
    }

    fn advance(&mut self, last_read: u32, len: u32) {
        self.consumed += u64::from(len);
        self.set_read_cursor(last_read + len);
    }

    fn set_read_cursor(&mut self, value: u32) {
        // SAFETY: the read cell is 4 bytes of our allocation (see buffer.rs).
        unsafe {
            core::ptr::copy_nonoverlapping(value.to_le_bytes().as_ptr(), self.read_cell, 4);
        }
    }
}

impl<R: Refill> Drop for StreamReader<R> {
    fn drop(&mut self) {
        // SAFETY: `new` took ownership of a buffer from allocate_buffer, and
        // the slices it lent borrowed `self`, so none outlives this.
        unsafe { free_buffer(self.descriptor) };
    }
}

#[cfg(feature = "std")]
impl<R: Refill> std::io::Read for StreamReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.read_into(buf)?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::allocate_buffer;
    use super::*;
    use alloc::vec;

    /// A host in the same address space: writes chunks through the
    /// descriptor, as the real host does through guest memory.
    struct LocalHost {
        payload: Vec<u8>,
        sent: usize,
        /// Cut the stream short after this many bytes.
        stop_at: usize,
        fills: u32,
    }

    impl LocalHost {
        fn new(payload: Vec<u8>) -> Self {
            let stop_at = payload.len();
            Self {
                payload,
                sent: 0,
                stop_at,
                fills: 0,
            }
        }

        /// Writes `bytes` at `offset` of the data area and sets the cursors.
        fn write(descriptor: i64, offset: usize, bytes: &[u8], last_write: u32) {
            // SAFETY: test buffers come from allocate_buffer with room for
            // offset + bytes.len() data bytes.
            unsafe {
                let d = read_descriptor(descriptor);
                let data = d.start as usize as *mut u8;
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), data.add(offset), bytes.len());
                core::ptr::copy_nonoverlapping(
                    0u32.to_le_bytes().as_ptr(),
                    d.last_read as usize as *mut u8,
                    4,
                );
                core::ptr::copy_nonoverlapping(
                    last_write.to_le_bytes().as_ptr(),
                    d.last_write as usize as *mut u8,
                    4,
                );
            }
        }

        fn prime(&mut self, capacity: u32) -> i64 {
            let descriptor = allocate_buffer(capacity);
            let total = self.payload.len() as u32;
            let first = self.payload.len().min(capacity as usize - 4);
            let mut bytes = total.to_le_bytes().to_vec();
            bytes.extend_from_slice(&self.payload[..first]);
            Self::write(descriptor, 0, &bytes, bytes.len() as u32);
            self.sent = first;
            descriptor
        }
    }

    impl Refill for &mut LocalHost {
        fn refill(&mut self, descriptor: i64) -> u32 {
            self.fills += 1;
            // SAFETY: a live test buffer.
            let capacity = unsafe { read_descriptor(descriptor) }.capacity as usize;
            let n = (self.stop_at - self.sent).min(capacity);
            let chunk = &self.payload[self.sent..self.sent + n];
            LocalHost::write(descriptor, 0, chunk, n as u32);
            self.sent += n;
            n as u32
        }
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 253) as u8).collect()
    }

    #[test]
    fn zero_copy_chunks_yield_the_payload_in_order() {
        for len in [0, 1, 11, 12, 13, 40, 1000] {
            let mut host = LocalHost::new(payload(len));
            let descriptor = host.prime(16);
            // SAFETY: primed above, read once.
            let mut reader = unsafe { StreamReader::new(descriptor, &mut host) }.unwrap();
            assert_eq!(reader.total_len() as usize, len);
            let mut got = Vec::new();
            while let Some(chunk) = reader.next_chunk().unwrap() {
                got.extend_from_slice(chunk);
            }
            assert_eq!(reader.next_chunk().unwrap(), None);
            drop(reader);
            assert_eq!(got, payload(len));
            assert_eq!(host.fills as usize, len.saturating_sub(12).div_ceil(16));
        }
    }

    #[test]
    fn odd_read_sizes_see_every_byte() {
        let data = payload(70_001);
        for size in [1, 3, 4093, 65_537] {
            let mut host = LocalHost::new(data.clone());
            let descriptor = host.prime(4096);
            // SAFETY: primed above, read once.
            let mut reader = unsafe { StreamReader::new(descriptor, &mut host) }.unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; size];
            loop {
                let n = reader.read_into(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                assert!(n <= size);
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, data, "read size {size}");
        }
    }

    #[test]
    fn read_to_end_collects_everything() {
        let mut host = LocalHost::new(payload(5000));
        let descriptor = host.prime(64);
        // SAFETY: primed above, read once.
        let mut reader = unsafe { StreamReader::new(descriptor, &mut host) }.unwrap();
        let mut out = vec![7u8];
        assert_eq!(reader.read_to_end_into(&mut out).unwrap(), 5000);
        assert_eq!(&out[1..], &payload(5000)[..]);
    }

    #[test]
    fn early_eof_is_truncation_not_a_short_read() {
        let mut host = LocalHost::new(payload(100));
        host.stop_at = 50;
        let descriptor = host.prime(16);
        // SAFETY: primed above, read once.
        let mut reader = unsafe { StreamReader::new(descriptor, &mut host) }.unwrap();
        let err = reader.read_to_end_into(&mut Vec::new()).unwrap_err();
        assert_eq!(
            err,
            StreamError::Truncated {
                total_len: 100,
                received: 50
            }
        );
    }

    #[test]
    fn cursors_outside_the_buffer_are_rejected() {
        let mut host = LocalHost::new(payload(10));
        let descriptor = host.prime(16);
        LocalHost::write(descriptor, 0, &[], 17);
        // SAFETY: primed above, read once.
        let err = unsafe { StreamReader::new(descriptor, &mut host) }.unwrap_err();
        assert!(matches!(
            err,
            StreamError::BadCursors { last_write: 17, .. }
        ));
    }

    #[cfg(feature = "std")]
    #[test]
    fn implements_std_io_read() {
        use std::io::Read;
        let mut host = LocalHost::new(payload(3000));
        let descriptor = host.prime(100);
        // SAFETY: primed above, read once.
        let mut reader = unsafe { StreamReader::new(descriptor, &mut host) }.unwrap();
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, payload(3000));
    }
}
