//! [`ReadAheadSource`]: a [`Read`] with a declared length, read on a thread
//! of its own ahead of the guest (feature `std`).
//!
//! A [`crate::ReaderSource`] reads at each refill, so the guest waits for
//! every read: a file's pages come from the kernel's cache at a few GiB/s,
//! about as fast as a guest digests them, and the two add up. A
//! `ReadAheadSource` keeps reading into a few host blocks while the guest
//! works, so a refill only copies a block that is already there and the
//! reads overlap the guest's work (on a second core). Host memory stays
//! bounded: [`DEPTH`] blocks of [`BLOCK_BYTES`], reused.

use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;

use crate::error::{Error, ErrorKind, Result};
use crate::handover::receive;
use crate::source::StreamSource;

/// The bytes of one block read ahead.
pub const BLOCK_BYTES: usize = 256 << 10;

/// How many blocks are in flight: read and waiting, or being read.
pub const DEPTH: usize = 4;

/// What the reading thread sends: a block of bytes (empty at the end of
/// the reader), or the reader's error.
type Block = io::Result<Vec<u8>>;

/// Any [`Read`] that can move to another thread, with a declared length,
/// read ahead of the guest by a thread of its own (see the module docs).
///
/// It reads at most one byte past the declared length (to tell an overlong
/// reader), so a reader longer than declared is not read to its end. When
/// the source is dropped the thread stops after its current read; a read
/// that blocks forever (a pipe nobody writes to) keeps it until the read
/// returns.
#[derive(Debug)]
pub struct ReadAheadSource {
    declared_len: u64,
    delivered: u64,
    blocks: Receiver<Block>,
    spares: SyncSender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ReadAheadSource {
    /// A source of exactly `declared_len` bytes read from `reader` on a new
    /// thread.
    pub fn new(reader: impl Read + Send + 'static, declared_len: u64) -> Result<Self> {
        let (send_block, blocks) = sync_channel::<Block>(DEPTH);
        let (spares, recycled) = sync_channel::<Vec<u8>>(DEPTH);
        for _ in 0..DEPTH {
            // Never full: the channel holds DEPTH.
            let _ = spares.try_send(vec![0u8; BLOCK_BYTES]);
        }
        let limit = declared_len.saturating_add(1);
        thread::Builder::new()
            .name("refill-read-ahead".into())
            .spawn(move || read_blocks(reader.take(limit), &recycled, &send_block))
            .map_err(|e| {
                Error::new(
                    ErrorKind::SourceFailed,
                    "cannot start the read-ahead thread",
                )
                .with_source(e)
            })?;
        Ok(Self {
            declared_len,
            delivered: 0,
            blocks,
            spares,
            current: Vec::new(),
            at: 0,
            ended: false,
        })
    }

    /// Opens a file and declares its current length.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let (file, len) = crate::source::open_file(path.as_ref())?;
        Self::new(file, len)
    }

    /// Makes the next block current, handing the spent one back to the
    /// reading thread; `false` at the end of the reader.
    fn next_block(&mut self) -> Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let block = match receive(&self.blocks, POLL) {
            Ok(Ok(block)) => block,
            Ok(Err(e)) => {
                return Err(Error::new(
                    ErrorKind::SourceFailed,
                    format!("read failed after {} bytes", self.delivered),
                )
                .with_source(e));
            }
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::SourceFailed,
                    format!(
                        "the read-ahead thread stopped after {} bytes",
                        self.delivered
                    ),
                ));
            }
        };
        let spent = core::mem::replace(&mut self.current, block);
        self.at = 0;
        if spent.capacity() > 0 {
            // The thread may be gone (at the end): nothing to give back to.
            let _ = self.spares.try_send(spent);
        }
        if self.current.is_empty() {
            self.ended = true;
            return Ok(false);
        }
        Ok(true)
    }
}

/// How long each side polls its channel before it sleeps: the reader and
/// the guest go at about the same speed, so each often waits a moment for
/// the other.
const POLL: std::time::Duration = std::time::Duration::from_micros(100);

/// The reading thread: fills spare blocks from `reader` and sends them,
/// then an empty block at its end, or its error; stops when the source is
/// gone.
fn read_blocks(mut reader: impl Read, spares: &Receiver<Vec<u8>>, blocks: &SyncSender<Block>) {
    loop {
        let Ok(mut block) = receive(spares, POLL) else {
            return;
        };
        block.resize(BLOCK_BYTES, 0);
        let mut filled = 0;
        let outcome = loop {
            match reader.read(&mut block[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == block.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        block.truncate(filled);
        let at_end = filled == 0;
        let sent = match outcome {
            // Bytes read before an error are sent first.
            Err(e) if filled > 0 => blocks.send(Ok(block)).and_then(|()| blocks.send(Err(e))),
            Err(e) => blocks.send(Err(e)),
            Ok(()) => blocks.send(Ok(block)),
        };
        if sent.is_err() || at_end {
            return;
        }
    }
}

impl StreamSource for ReadAheadSource {
    fn total_len(&self) -> u64 {
        self.declared_len
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        let mut filled = 0;
        while filled < dst.len() {
            if self.at == self.current.len() && !self.next_block()? {
                return Err(Error::new(
                    ErrorKind::SourceTruncated,
                    format!(
                        "source ended after {} of {} declared bytes",
                        self.delivered, self.declared_len
                    ),
                ));
            }
            let n = (dst.len() - filled).min(self.current.len() - self.at);
            dst[filled..filled + n].copy_from_slice(&self.current[self.at..self.at + n]);
            self.at += n;
            filled += n;
            self.delivered += n as u64;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.at < self.current.len() || self.next_block()? {
            return Err(Error::new(
                ErrorKind::SourceOverlong,
                format!(
                    "source has more than its {} declared bytes",
                    self.declared_len
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    /// Reads `source` to its declared end in pieces of `piece` bytes.
    fn drain(source: &mut ReadAheadSource, piece: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut left = source.total_len() as usize;
        while left > 0 {
            let mut buf = vec![0u8; piece.min(left)];
            source.read_exact_into(&mut buf)?;
            out.extend_from_slice(&buf);
            left -= buf.len();
        }
        source.finish()?;
        Ok(out)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn delivers_the_reader_exactly_across_blocks() {
        for len in [0, 1, BLOCK_BYTES - 1, BLOCK_BYTES, 3 * BLOCK_BYTES + 17] {
            for piece in [1 << 16, 4093, BLOCK_BYTES + 5] {
                let data = pattern(len);
                let mut source =
                    ReadAheadSource::new(io::Cursor::new(data.clone()), len as u64).unwrap();
                assert_eq!(drain(&mut source, piece).unwrap(), data, "{len} in {piece}");
            }
        }
    }

    #[test]
    fn a_short_reader_is_truncated_and_a_long_one_overlong() {
        let mut short = ReadAheadSource::new(io::Cursor::new(pattern(1000)), 1001).unwrap();
        let e = drain(&mut short, 4096).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceTruncated);
        assert!(e.to_string().contains("1000 of 1001"), "{e}");

        let mut long = ReadAheadSource::new(io::Cursor::new(pattern(1001)), 1000).unwrap();
        let e = drain(&mut long, 4096).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceOverlong);
    }

    /// A reader that gives `good` bytes and then fails.
    struct Failing {
        good: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.good);
            buf[..n].fill(1);
            self.good -= n;
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_is_a_source_failure_after_the_bytes_before_it() {
        let mut source = ReadAheadSource::new(Failing { good: 70_000 }, 200_000).unwrap();
        let mut first = vec![0u8; 70_000];
        source.read_exact_into(&mut first).unwrap();
        assert!(first.iter().all(|&b| b == 1));
        let e = source.read_exact_into(&mut [0u8; 10]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceFailed);
        assert!(e.to_string().contains("after 70000 bytes"), "{e}");
    }

    /// Dropping a source half-read stops its thread: the reader (which
    /// counts its reads) is read no further than the blocks in flight.
    #[test]
    fn dropping_the_source_stops_the_thread() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Counted(Arc<AtomicUsize>);
        impl Read for Counted {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.0.fetch_add(buf.len(), Ordering::SeqCst);
                buf.fill(0);
                Ok(buf.len())
            }
        }
        let read = Arc::new(AtomicUsize::new(0));
        let mut source = ReadAheadSource::new(Counted(read.clone()), u64::MAX - 1).unwrap();
        source.read_exact_into(&mut [0u8; 100]).unwrap();
        drop(source);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let after_drop = read.load(Ordering::SeqCst);
        assert!(after_drop <= (2 * DEPTH + 1) * BLOCK_BYTES, "{after_drop}");
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(read.load(Ordering::SeqCst), after_drop, "still reading");
    }
}
