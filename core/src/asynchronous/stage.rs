//! The stage between an async reader or writer and the synchronous refill
//! state machine: one chunk of bytes, waited for before an import runs.
//!
//! A [`Stage`] is shared by two halves. The synchronous half is a
//! [`StreamSource`] or [`StreamSink`] that [`crate::HostStreams`] keeps like
//! any other: it only ever takes bytes already staged, or stages bytes for
//! later, and never waits. The async half is a [`Wait`], asked for before
//! an import runs ([`crate::HostData::wait_before`]): it reads the next
//! chunk from the [`AsyncRead`] into the stage, or writes the staged bytes
//! to the [`AsyncWrite`], awaiting either. So the state machine's checks
//! run unchanged, host memory stays one chunk per stream, and where the
//! guest is suspended while a wait runs is the engine's business.

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::pin::Pin;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::relay::WaitRelay;
use crate::error::{Error, ErrorKind, Result};
use crate::sink::StreamSink;
use crate::source::StreamSource;

/// An async source as a stage keeps it.
pub(super) type BoxedReader = Pin<Box<dyn AsyncRead + Send>>;
/// An async sink as a stage keeps it.
pub(super) type BoxedWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// One async stream's stage: cloning shares it.
#[derive(Clone)]
pub struct Stage(Arc<Mutex<Staged>>);

impl core::fmt::Debug for Stage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let staged = self.lock();
        let (kind, held) = match &*staged {
            Staged::Input(input) => ("input", input.end - input.start),
            Staged::Output(output) => ("output", output.bytes.len()),
        };
        f.debug_struct("Stage")
            .field("kind", &kind)
            .field("held", &held)
            .finish()
    }
}

enum Staged {
    Input(StagedInput),
    Output(StagedOutput),
}

/// An input's stage: `bytes[start..end]` read from the reader and not yet
/// taken by a refill.
struct StagedInput {
    /// `None` while a wait reads from it.
    reader: Option<BoxedReader>,
    /// One chunk, allocated once.
    bytes: Box<[u8]>,
    start: usize,
    end: usize,
    /// Declared bytes not yet read from the reader.
    unread: u64,
    /// Declared bytes not yet taken by the state machine.
    untaken: u64,
}

/// An output's stage: bytes drained and not yet written.
struct StagedOutput {
    /// `None` while a wait writes to it.
    writer: Option<BoxedWriter>,
    bytes: Vec<u8>,
    chunk: usize,
    /// Set by the sink's `finish`: the last drain is staged.
    finished: bool,
}

impl Stage {
    /// A stage for an input of `total_len` bytes read from `reader`, one
    /// `chunk` at a time, and the source the state machine is given.
    /// With a `relay`, the source blocks on it for bytes not yet staged
    /// (the call runs on a thread that may block); without, it never waits.
    pub(super) fn input(
        reader: BoxedReader,
        total_len: u64,
        chunk: u32,
        relay: Option<WaitRelay>,
    ) -> (Self, StagedSource) {
        let stage = Self(Arc::new(Mutex::new(Staged::Input(StagedInput {
            reader: Some(reader),
            bytes: vec![0; chunk as usize].into_boxed_slice(),
            start: 0,
            end: 0,
            unread: total_len,
            untaken: total_len,
        }))));
        let source = StagedSource {
            stage: stage.clone(),
            total_len,
            relay,
        };
        (stage, source)
    }

    /// A stage for an output written to `writer`, one drain (at most
    /// `chunk` bytes) at a time, and the sink the state machine is given;
    /// `relay` as for [`Stage::input`].
    pub(super) fn output(
        writer: BoxedWriter,
        chunk: u32,
        relay: Option<WaitRelay>,
    ) -> (Self, StagedSink) {
        let stage = Self(Arc::new(Mutex::new(Staged::Output(StagedOutput {
            writer: Some(writer),
            bytes: Vec::with_capacity(chunk as usize),
            chunk: chunk as usize,
            finished: false,
        }))));
        let sink = StagedSink {
            stage: stage.clone(),
            relay,
        };
        (stage, sink)
    }

    fn lock(&self) -> MutexGuard<'_, Staged> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What must be awaited before the import that takes or gives this
    /// stage's bytes can run without waiting: the next chunk of an input
    /// (`min(chunk, bytes left)` staged), the staged bytes of an output
    /// written. `None` when nothing is missing.
    pub fn wait(&self) -> Option<Wait> {
        let needed = match &*self.lock() {
            Staged::Input(input) => {
                let held = (input.end - input.start) as u64;
                held < input.untaken.min(input.bytes.len() as u64)
            }
            Staged::Output(output) => !output.bytes.is_empty(),
        };
        needed.then(|| Wait(self.clone()))
    }

    /// Whether this stage is an output's.
    pub fn is_output(&self) -> bool {
        matches!(&*self.lock(), Staged::Output(_))
    }

    /// Writes what an output has staged, then (once its sink was finished)
    /// flushes and shuts its writer down. Nothing for an input.
    pub async fn close(&self) -> Result<()> {
        if let Some(wait) = self.wait() {
            wait.run().await?;
        }
        let writer = match &mut *self.lock() {
            Staged::Output(output) if output.finished => output.writer.take(),
            _ => None,
        };
        if let Some(mut writer) = writer {
            poll_fn(|cx| writer.as_mut().poll_flush(cx))
                .await
                .map_err(sink_failed)?;
            poll_fn(|cx| writer.as_mut().poll_shutdown(cx))
                .await
                .map_err(sink_failed)?;
        }
        Ok(())
    }
}

/// One wait of a [`Stage`]: [`Wait::run`] it, then run the import.
#[derive(Debug)]
pub struct Wait(Stage);

impl Wait {
    /// Reads the input's next chunk into the stage, or writes the output's
    /// staged bytes. An I/O error is [`ErrorKind::SourceFailed`] or
    /// [`ErrorKind::SinkFailed`]; a reader that ends early is
    /// [`ErrorKind::SourceTruncated`], one with more than it declared
    /// [`ErrorKind::SourceOverlong`].
    pub async fn run(self) -> Result<()> {
        let taken = match &mut *self.0.lock() {
            Staged::Input(input) => input.reader.take().map(|reader| {
                // Move what is held to the front: the chunk then has room.
                input.bytes.copy_within(input.start..input.end, 0);
                input.end -= input.start;
                input.start = 0;
                let want = input.untaken.min(input.bytes.len() as u64) as usize;
                let bytes = core::mem::take(&mut input.bytes);
                Taken::Input(reader, bytes, input.end, want, input.unread)
            }),
            Staged::Output(output) => output
                .writer
                .take()
                .map(|writer| Taken::Output(writer, core::mem::take(&mut output.bytes))),
        };
        let Some(taken) = taken else {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "a stream's reader or writer is already busy: two waits on one stream",
            ));
        };
        match taken {
            Taken::Input(reader, bytes, end, want, unread) => {
                let (reader, bytes, outcome) = fill(reader, bytes, end, want, unread).await;
                if let Staged::Input(input) = &mut *self.0.lock() {
                    let (read, result) = outcome;
                    input.end += read;
                    input.unread -= read as u64;
                    input.bytes = bytes;
                    input.reader = Some(reader);
                    return result;
                }
                Ok(())
            }
            Taken::Output(mut writer, mut bytes) => {
                let written = write_all(writer.as_mut(), &bytes).await;
                bytes.clear();
                if let Staged::Output(output) = &mut *self.0.lock() {
                    output.bytes = bytes;
                    output.writer = Some(writer);
                }
                written
            }
        }
    }
}

/// A stage's reader or writer and buffer, out of the stage while a wait
/// awaits them (the lock is never held across an await).
enum Taken {
    Input(BoxedReader, Box<[u8]>, usize, usize, u64),
    Output(BoxedWriter, Vec<u8>),
}

/// What a fill did: the bytes it read, and how it ended.
type Filled = (BoxedReader, Box<[u8]>, (usize, Result<()>));

/// Reads into `bytes[end..want]`, never past the `unread` declared bytes;
/// once the last declared byte is read, checks that the reader has ended.
async fn fill(
    mut reader: BoxedReader,
    mut bytes: Box<[u8]>,
    end: usize,
    want: usize,
    unread: u64,
) -> Filled {
    let mut at = end;
    let mut left = unread;
    while at < want {
        let stop = want.min(at.saturating_add(usize::try_from(left).unwrap_or(usize::MAX)));
        let mut buf = ReadBuf::new(&mut bytes[at..stop]);
        match poll_fn(|cx| reader.as_mut().poll_read(cx, &mut buf)).await {
            Ok(()) if buf.filled().is_empty() => {
                let result = Err(Error::new(
                    ErrorKind::SourceTruncated,
                    format!("the async source ended {left} bytes before its declared length"),
                ));
                return (reader, bytes, (at - end, result));
            }
            Ok(()) => {
                let n = buf.filled().len();
                at += n;
                left -= n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let result = Err(Error::new(
                    ErrorKind::SourceFailed,
                    "the async source failed to read",
                )
                .with_source(e));
                return (reader, bytes, (at - end, result));
            }
        }
    }
    let result = if left == 0 {
        check_ended(reader.as_mut()).await
    } else {
        Ok(())
    };
    (reader, bytes, (at - end, result))
}

/// Once every declared byte is read: the reader must have no more.
async fn check_ended(mut reader: Pin<&mut (dyn AsyncRead + Send)>) -> Result<()> {
    let mut probe = [0u8; 1];
    let mut buf = ReadBuf::new(&mut probe);
    poll_fn(|cx| reader.as_mut().poll_read(cx, &mut buf))
        .await
        .map_err(|e| {
            Error::new(ErrorKind::SourceFailed, "the async source failed to read").with_source(e)
        })?;
    if !buf.filled().is_empty() {
        return Err(Error::new(
            ErrorKind::SourceOverlong,
            "the async source has more bytes than it declared",
        ));
    }
    Ok(())
}

async fn write_all(mut writer: Pin<&mut (dyn AsyncWrite + Send)>, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match poll_fn(|cx| writer.as_mut().poll_write(cx, bytes)).await {
            Ok(0) => {
                return Err(Error::new(
                    ErrorKind::SinkFailed,
                    "the async sink took no bytes (closed)",
                ));
            }
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(sink_failed(e)),
        }
    }
    Ok(())
}

fn sink_failed(e: io::Error) -> Error {
    Error::new(ErrorKind::SinkFailed, "the async sink failed to write").with_source(e)
}

/// The error of a synchronous half asked for bytes no wait staged: the
/// import was reached outside an async call, or without its wait.
fn not_staged(what: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!("an async stream's {what} outside its wait: async streams need an async call"),
    )
}

/// The synchronous half of an input's [`Stage`]: takes staged bytes, and
/// through its relay (if it has one) waits for them.
#[derive(Debug)]
pub(super) struct StagedSource {
    stage: Stage,
    total_len: u64,
    relay: Option<WaitRelay>,
}

/// Runs the stage's wait through `relay`, if the stage has one pending and
/// there is a relay to run it.
fn relayed(stage: &Stage, relay: Option<&WaitRelay>) -> Result<()> {
    match (stage.wait(), relay) {
        (Some(wait), Some(relay)) => relay.wait(wait),
        _ => Ok(()),
    }
}

impl StreamSource for StagedSource {
    fn total_len(&self) -> u64 {
        self.total_len
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        relayed(&self.stage, self.relay.as_ref())?;
        let mut staged = self.stage.lock();
        let Staged::Input(input) = &mut *staged else {
            return Err(not_staged("bytes were asked for"));
        };
        if input.end - input.start < dst.len() {
            return Err(not_staged("bytes were asked for"));
        }
        dst.copy_from_slice(&input.bytes[input.start..input.start + dst.len()]);
        input.start += dst.len();
        input.untaken -= dst.len() as u64;
        Ok(())
    }
}

/// The synchronous half of an output's [`Stage`]: stages one drain, once
/// the one before is written (through its relay, if it has one).
#[derive(Debug)]
pub(super) struct StagedSink {
    stage: Stage,
    relay: Option<WaitRelay>,
}

impl StreamSink for StagedSink {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        relayed(&self.stage, self.relay.as_ref())?;
        let mut staged = self.stage.lock();
        let Staged::Output(output) = &mut *staged else {
            return Err(not_staged("drain came"));
        };
        if output.writer.is_none() || output.bytes.len() + bytes.len() > output.chunk {
            return Err(not_staged("drain came"));
        }
        output.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Staged::Output(output) = &mut *self.stage.lock() {
            output.finished = true;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asynchronous::poll_now;

    fn input(bytes: &'static [u8], declared: u64, chunk: u32) -> (Stage, StagedSource) {
        Stage::input(Box::pin(bytes), declared, chunk, None)
    }

    /// A stage holds one chunk at most, asks for a wait only while it
    /// lacks what the next refill takes, and hands out bytes in order.
    #[test]
    fn an_input_stage_is_topped_up_one_chunk_at_a_time() {
        let (stage, mut source) = input(b"abcdefghij", 10, 4);
        let mut dst = [0u8; 4];
        assert_eq!(
            source.read_exact_into(&mut dst).unwrap_err().kind(),
            ErrorKind::Unsupported,
            "nothing is staged before the first wait"
        );
        for expected in [&b"abcd"[..], b"efgh", b"ij"] {
            let wait = stage.wait().expect("the next chunk is missing");
            poll_now(wait.run()).unwrap().unwrap();
            assert!(stage.wait().is_none(), "one wait stages a whole chunk");
            let dst = &mut dst[..expected.len()];
            source.read_exact_into(dst).unwrap();
            assert_eq!(dst, expected);
        }
        assert!(stage.wait().is_none(), "nothing is left to wait for");
    }

    /// A reader shorter or longer than it declared fails the wait that
    /// reaches its end, with the kind that says which.
    #[test]
    fn a_reader_must_end_at_its_declared_length() {
        let (stage, _source) = input(b"abc", 5, 8);
        let e = poll_now(stage.wait().unwrap().run()).unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceTruncated);
        let (stage, _source) = input(b"abcdef", 5, 8);
        let e = poll_now(stage.wait().unwrap().run()).unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceOverlong);
    }

    /// An output stage takes one drain, refuses a second until the first
    /// is written, and closes the writer once its sink is finished.
    #[test]
    fn an_output_stage_holds_one_drain_until_it_is_written() {
        let (stage, mut sink) = Stage::output(Box::pin(Vec::<u8>::new()), 4, None);
        sink.write_all(b"abcd").unwrap();
        assert_eq!(
            sink.write_all(b"e").unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        poll_now(stage.wait().expect("staged bytes").run())
            .unwrap()
            .unwrap();
        assert!(stage.wait().is_none());
        sink.write_all(b"e").unwrap();
        sink.finish().unwrap();
        poll_now(stage.close()).unwrap().unwrap();
        assert!(stage.wait().is_none());
    }
}
