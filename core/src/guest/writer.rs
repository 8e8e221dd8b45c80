//! Writing one output stream in the guest, with guest memory O(chunk): the
//! mirror of the reader (`docs/protocol.md`, "Streaming out").

use core::fmt;

use super::buffer::{free_buffer, read_cell, read_descriptor};
use super::reader::StreamError;

/// Hands the bytes of a buffer to the host: `__refill__drain_buffer`.
pub trait Drain {
    /// Asks the host to take the bytes between the cursors of the buffer
    /// whose descriptor is at `descriptor`; returns how many it took (the
    /// host then set both cursors to 0).
    fn drain(&mut self, descriptor: i64) -> u32;
}

/// Writes one output stream: appends at the write cursor and drains the
/// buffer to the host whenever it is full, and when dropped (after which it
/// frees the buffer). Either copy bytes in ([`StreamWriter::write_bytes`],
/// `std::io::Write`) or write in place ([`StreamWriter::spare`], then
/// [`StreamWriter::commit`]).
pub struct StreamWriter<D: Drain> {
    descriptor: i64,
    data: *mut u8,
    capacity: u32,
    read_cell: *mut u8,
    write_cell: *mut u8,
    written: u64,
    drain: D,
}

impl<D: Drain> fmt::Debug for StreamWriter<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamWriter")
            .field("descriptor", &self.descriptor)
            .field("capacity", &self.capacity)
            .field("written", &self.written)
            .finish()
    }
}

impl<D: Drain> StreamWriter<D> {
    /// A writer of the output buffer at `descriptor`, drained by `drain`.
    ///
    /// # Safety
    ///
    /// `descriptor` must come from [`super::allocate_buffer`], be opened by
    /// the host as an output stream (both cursors 0) and be written by no
    /// other writer; the writer frees it when dropped.
    pub unsafe fn new(descriptor: i64, drain: D) -> Result<Self, StreamError> {
        // SAFETY: the caller guarantees a live descriptor of ours.
        let d = unsafe { read_descriptor(descriptor) };
        let writer = Self {
            descriptor,
            data: d.start as usize as *mut u8,
            capacity: d.capacity,
            read_cell: d.last_read as usize as *mut u8,
            write_cell: d.last_write as usize as *mut u8,
            written: 0,
            drain,
        };
        writer.cursors()?;
        Ok(writer)
    }

    /// Bytes written so far (committed).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The free part of the buffer, to write in place: draining first if
    /// the buffer is full, so that it is never empty. Follow with
    /// [`StreamWriter::commit`] of the bytes written.
    pub fn spare(&mut self) -> Result<&mut [u8], StreamError> {
        let (_, mut write) = self.cursors()?;
        if write == self.capacity {
            self.flush()?;
            write = self.cursors()?.1;
        }
        // SAFETY: cursors() checked write <= capacity: the bytes from the
        // write cursor to the capacity lie in the data area, which only this
        // writer touches between drains; the borrow ends before the next
        // drain, which needs `&mut self`.
        Ok(unsafe {
            core::slice::from_raw_parts_mut(
                self.data.add(write as usize),
                (self.capacity - write) as usize,
            )
        })
    }

    /// Marks the first `n` bytes of [`StreamWriter::spare`] as written.
    pub fn commit(&mut self, n: usize) -> Result<(), StreamError> {
        let (read, write) = self.cursors()?;
        let free = self.capacity - write;
        let n = u32::try_from(n)
            .ok()
            .filter(|&n| n <= free)
            .ok_or(StreamError::BadCursors {
                last_read: read,
                last_write: write.saturating_add(u32::try_from(n).unwrap_or(u32::MAX)),
                capacity: self.capacity,
            })?;
        self.set_write_cursor(write + n);
        self.written += u64::from(n);
        Ok(())
    }

    /// Copies all of `bytes` into the stream, draining as the buffer fills.
    pub fn write_bytes(&mut self, mut bytes: &[u8]) -> Result<(), StreamError> {
        while !bytes.is_empty() {
            let spare = self.spare()?;
            let n = spare.len().min(bytes.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            self.commit(n)?;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Hands what the buffer holds to the host now.
    pub fn flush(&mut self) -> Result<(), StreamError> {
        let (read, write) = self.cursors()?;
        if read == write {
            return Ok(());
        }
        let taken = self.drain.drain(self.descriptor);
        let (after_read, after_write) = self.cursors()?;
        if taken != write - read || after_read != 0 || after_write != 0 {
            return Err(StreamError::BadCursors {
                last_read: after_read,
                last_write: after_write,
                capacity: self.capacity,
            });
        }
        Ok(())
    }

    /// The cursors, checked: `read <= write <= capacity`.
    fn cursors(&self) -> Result<(u32, u32), StreamError> {
        // SAFETY: the cells are 4 bytes each inside the live allocation the
        // descriptor describes.
        let (read, write) = unsafe { (read_cell(self.read_cell), read_cell(self.write_cell)) };
        if read > write || write > self.capacity {
            return Err(StreamError::BadCursors {
                last_read: read,
                last_write: write,
                capacity: self.capacity,
            });
        }
        Ok((read, write))
    }

    fn set_write_cursor(&mut self, value: u32) {
        let bytes = value.to_le_bytes();
        // SAFETY: the write cell is 4 writable bytes of the live allocation.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.write_cell, bytes.len()) };
    }
}

impl<D: Drain> Drop for StreamWriter<D> {
    /// Drains what is left, then frees the buffer (the host's last drain at
    /// the entry point's return then finds nothing; a buffer freed with
    /// bytes in it could be reused by the allocator before the host took
    /// them).
    fn drop(&mut self) {
        let _ = self.flush();
        // SAFETY: `new`'s contract: the descriptor is ours and this writer
        // is its only user.
        unsafe { free_buffer(self.descriptor) };
    }
}

#[cfg(feature = "std")]
impl<D: Drain> std::io::Write for StreamWriter<D> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let spare = self.spare()?;
        let n = spare.len().min(buf.len());
        spare[..n].copy_from_slice(&buf[..n]);
        self.commit(n)?;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(StreamWriter::flush(self)?)
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use super::super::buffer::allocate_buffer;
    use super::*;

    /// The host's side, played natively: takes the bytes between the
    /// cursors into `out` and sets both to 0, as `HostStreams::drain` does.
    struct Host {
        out: Vec<u8>,
        drains: u32,
    }

    impl Drain for &mut Host {
        fn drain(&mut self, descriptor: i64) -> u32 {
            // SAFETY: the test's own live buffer.
            let d = unsafe { read_descriptor(descriptor) };
            let (read, write) = unsafe {
                (
                    read_cell(d.last_read as usize as *const u8),
                    read_cell(d.last_write as usize as *const u8),
                )
            };
            // SAFETY: as above; the writer checked read <= write <= capacity.
            let bytes = unsafe {
                core::slice::from_raw_parts(
                    (d.start as usize as *const u8).add(read as usize),
                    (write - read) as usize,
                )
            };
            self.out.extend_from_slice(bytes);
            for cell in [d.last_read, d.last_write] {
                // SAFETY: 4 bytes of the test's own live buffer.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        0u32.to_le_bytes().as_ptr(),
                        cell as usize as *mut u8,
                        4,
                    )
                };
            }
            self.drains += 1;
            write - read
        }
    }

    fn opened(capacity: u32) -> i64 {
        let descriptor = allocate_buffer(capacity);
        // SAFETY: just allocated; zero both cells as the host does.
        let d = unsafe { read_descriptor(descriptor) };
        for cell in [d.last_read, d.last_write] {
            // SAFETY: 4 bytes of the live buffer.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    0u32.to_le_bytes().as_ptr(),
                    cell as usize as *mut u8,
                    4,
                )
            };
        }
        descriptor
    }

    #[test]
    fn bytes_written_reach_the_host_in_order_drain_by_drain() {
        let mut host = Host {
            out: Vec::new(),
            drains: 0,
        };
        let payload: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        {
            // SAFETY: a buffer of ours, opened as the host would.
            let mut writer = unsafe { StreamWriter::new(opened(64), &mut host) }.unwrap();
            writer.write_bytes(&payload[..500]).unwrap();
            // In place: fill what is spare, commit part of it.
            let spare = writer.spare().unwrap();
            let n = spare.len().min(10);
            spare[..n].copy_from_slice(&payload[500..500 + n]);
            writer.commit(n).unwrap();
            writer.write_bytes(&payload[500 + n..]).unwrap();
            assert_eq!(writer.written(), 1000);
            assert_eq!(
                writer.commit(65).unwrap_err(),
                StreamError::BadCursors {
                    last_read: 0,
                    last_write: 1000 % 64 + 65,
                    capacity: 64
                }
            );
        }
        assert_eq!(host.out, payload);
        assert_eq!(host.drains, 1000u32.div_ceil(64));
    }

    /// A host that does not take what it says, or leaves the cursors, is
    /// caught by the writer.
    #[test]
    fn a_host_that_misreports_a_drain_is_an_error() {
        struct Liar;
        impl Drain for Liar {
            fn drain(&mut self, _: i64) -> u32 {
                3
            }
        }
        // SAFETY: a buffer of ours, opened as the host would.
        let mut writer = unsafe { StreamWriter::new(opened(16), Liar) }.unwrap();
        writer.write_bytes(b"hello").unwrap();
        assert!(matches!(
            writer.flush(),
            Err(StreamError::BadCursors {
                last_read: 0,
                last_write: 5,
                ..
            })
        ));
    }
}
