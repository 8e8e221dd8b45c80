//! Where an output stream's bytes go: the [`StreamSink`] trait, the mirror
//! of [`crate::StreamSource`], and the host's sinks (`docs/protocol.md`,
//! "Streaming out").

use alloc::boxed::Box;

use crate::error::Result;

/// Takes the bytes a guest streams out, drain by drain.
pub trait StreamSink {
    /// Takes the next bytes of the stream, all of them. An error (a full
    /// disk, a closed pipe) makes the guest's drain trap with it.
    fn write_all(&mut self, bytes: &[u8]) -> Result<()>;

    /// Called once when the entry point has returned and the last drain was
    /// taken (flush here). Not called after a trap.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<S: StreamSink + ?Sized> StreamSink for Box<S> {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        (**self).write_all(bytes)
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}

/// A stream sink as the host state keeps it.
pub type BoxedSink = Box<dyn StreamSink + Send>;

#[cfg(feature = "std")]
pub use std_sinks::{VecSink, WriterSink};

#[cfg(feature = "std")]
mod std_sinks {
    use alloc::format;
    use alloc::sync::Arc;
    use alloc::vec::Vec;
    use std::io::Write;
    use std::sync::{Mutex, PoisonError};

    use super::StreamSink;
    use crate::error::{Error, ErrorKind, Result};

    /// A growable in-memory buffer. Clones share it: keep one, give the
    /// other to the instance, and read the output from yours after the call.
    #[derive(Clone, Debug, Default)]
    pub struct VecSink {
        bytes: Arc<Mutex<Vec<u8>>>,
    }

    impl VecSink {
        /// An empty buffer.
        pub fn new() -> Self {
            Self::default()
        }

        /// The bytes written so far, taken out (the buffer is left empty).
        pub fn take(&self) -> Vec<u8> {
            core::mem::take(&mut *self.bytes.lock().unwrap_or_else(PoisonError::into_inner))
        }

        /// How many bytes the buffer holds.
        pub fn len(&self) -> usize {
            self.bytes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        }

        /// Whether the buffer holds nothing.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }
    }

    impl StreamSink for VecSink {
        fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
            self.bytes
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(bytes);
            Ok(())
        }
    }

    /// Any [`Write`] (a file, a socket, standard output): each drain is
    /// written through at once, so the host holds none of the output.
    #[derive(Debug)]
    pub struct WriterSink<W> {
        writer: W,
        written: u64,
    }

    impl<W: Write> WriterSink<W> {
        /// A sink writing into `writer`.
        pub fn new(writer: W) -> Self {
            Self { writer, written: 0 }
        }

        /// The bytes written so far.
        pub fn written(&self) -> u64 {
            self.written
        }

        /// The writer back.
        pub fn into_inner(self) -> W {
            self.writer
        }
    }

    impl<W: Write> StreamSink for WriterSink<W> {
        fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
            self.writer.write_all(bytes).map_err(|e| {
                Error::new(
                    ErrorKind::SinkFailed,
                    format!("write failed after {} bytes", self.written),
                )
                .with_source(e)
            })?;
            self.written += bytes.len() as u64;
            Ok(())
        }

        fn finish(&mut self) -> Result<()> {
            self.writer.flush().map_err(|e| {
                Error::new(
                    ErrorKind::SinkFailed,
                    format!("flush failed after {} bytes", self.written),
                )
                .with_source(e)
            })
        }
    }
}
