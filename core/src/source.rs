//! Where the bytes of a stream come from on the host.

use alloc::format;
use core::fmt;

use bytes::Bytes;

use crate::error::{Error, ErrorKind, Result};

/// The host side of one stream: a declared length and the bytes, handed out
/// in order into guest memory.
///
/// The state machine calls [`StreamSource::read_exact_into`] with consecutive
/// slices whose lengths add up to [`StreamSource::total_len`], then
/// [`StreamSource::finish`] once. A source never sees more than one chunk at a
/// time, so a file streams with O(chunk) host memory.
pub trait StreamSource {
    /// The declared length of the stream in bytes.
    fn total_len(&self) -> u64;

    /// Fills `dst` completely with the next bytes of the stream. A source that
    /// ends early fails with [`ErrorKind::SourceTruncated`].
    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()>;

    /// Called once all declared bytes were delivered: a source that has more
    /// fails with [`ErrorKind::SourceOverlong`].
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<S: StreamSource + ?Sized> StreamSource for alloc::boxed::Box<S> {
    fn total_len(&self) -> u64 {
        (**self).total_len()
    }
    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        (**self).read_exact_into(dst)
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}

/// An in-memory payload. Cloning a [`Bytes`] shares the caller's buffer, so
/// the host keeps no extra copy of it.
#[derive(Clone, Debug)]
pub struct BytesSource {
    bytes: Bytes,
    position: usize,
}

impl BytesSource {
    /// A source over `bytes` (a `Vec<u8>`, a `&'static [u8]`, a `Bytes`...).
    pub fn new(bytes: impl Into<Bytes>) -> Self {
        Self {
            bytes: bytes.into(),
            position: 0,
        }
    }

    /// A source over bytes that live for the whole program, such as a state
    /// kept in a device's flash: nothing is copied or allocated for them.
    pub const fn from_static(bytes: &'static [u8]) -> Self {
        Self {
            bytes: Bytes::from_static(bytes),
            position: 0,
        }
    }
}

impl StreamSource for BytesSource {
    fn total_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        let end = self.position.saturating_add(dst.len());
        let Some(chunk) = self.bytes.get(self.position..end) else {
            return Err(Error::new(
                ErrorKind::SourceTruncated,
                format!(
                    "asked for {} bytes at offset {} of a {}-byte payload",
                    dst.len(),
                    self.position,
                    self.bytes.len()
                ),
            ));
        };
        dst.copy_from_slice(chunk);
        self.position = end;
        Ok(())
    }
}

/// A source that pulls its bytes from a closure, with a declared length: a
/// peripheral (a UART, an SPI flash, a radio), a decompressor, anything
/// without `std::io`. The closure fills a prefix of the slice it is given
/// and returns how many bytes it wrote (at least one), or `Ok(0)` at the
/// end of its data; its error is passed through as it is.
pub struct PullSource<F> {
    pull: F,
    declared_len: u64,
    delivered: u64,
}

impl<F> fmt::Debug for PullSource<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullSource")
            .field("declared_len", &self.declared_len)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl<F: FnMut(&mut [u8]) -> Result<usize>> PullSource<F> {
    /// A source of exactly `declared_len` bytes pulled from `pull`.
    pub fn new(declared_len: u64, pull: F) -> Self {
        Self {
            pull,
            declared_len,
            delivered: 0,
        }
    }

    /// Calls the closure once, checking what it claims to have written.
    fn pull_into(&mut self, dst: &mut [u8]) -> Result<usize> {
        let wanted = dst.len();
        let n = (self.pull)(dst)?;
        if n > wanted {
            return Err(Error::new(
                ErrorKind::SourceFailed,
                format!("a pull source claimed {n} bytes for a slice of {wanted}"),
            ));
        }
        Ok(n)
    }
}

impl<F: FnMut(&mut [u8]) -> Result<usize>> StreamSource for PullSource<F> {
    fn total_len(&self) -> u64 {
        self.declared_len
    }

    fn read_exact_into(&mut self, mut dst: &mut [u8]) -> Result<()> {
        while !dst.is_empty() {
            let n = self.pull_into(dst)?;
            if n == 0 {
                return Err(Error::new(
                    ErrorKind::SourceTruncated,
                    format!(
                        "source ended after {} of {} declared bytes",
                        self.delivered, self.declared_len
                    ),
                ));
            }
            self.delivered += n as u64;
            dst = &mut dst[n..];
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        match self.pull_into(&mut [0u8; 1])? {
            0 => Ok(()),
            _ => Err(Error::new(
                ErrorKind::SourceOverlong,
                format!(
                    "source has more than its {} declared bytes",
                    self.declared_len
                ),
            )),
        }
    }
}

#[cfg(feature = "std")]
pub use reader::ReaderSource;
#[cfg(feature = "std")]
pub(crate) use reader::open_file;

#[cfg(feature = "std")]
mod reader {
    use super::*;
    use std::io::{self, Read};

    /// Any [`Read`] with a declared length (a file, a socket, a decompressor):
    /// read chunk by chunk straight into guest memory.
    #[derive(Debug)]
    pub struct ReaderSource<R> {
        reader: R,
        declared_len: u64,
        delivered: u64,
    }

    impl<R: Read> ReaderSource<R> {
        /// A source of exactly `declared_len` bytes read from `reader`.
        pub fn new(reader: R, declared_len: u64) -> Self {
            Self {
                reader,
                declared_len,
                delivered: 0,
            }
        }
    }

    impl ReaderSource<std::fs::File> {
        /// Opens a file and declares its current length.
        pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self> {
            let (file, len) = open_file(path.as_ref())?;
            Ok(Self::new(file, len))
        }
    }

    /// Opens the regular file at `path` and tells its current length.
    pub(crate) fn open_file(path: &std::path::Path) -> Result<(std::fs::File, u64)> {
        let fail = |e: io::Error| {
            Error::new(
                ErrorKind::SourceFailed,
                format!("cannot open {}", path.display()),
            )
            .with_source(e)
        };
        let file = std::fs::File::open(path).map_err(fail)?;
        let metadata = file.metadata().map_err(fail)?;
        if !metadata.is_file() {
            return Err(Error::new(
                ErrorKind::SourceFailed,
                format!("{} is not a regular file", path.display()),
            ));
        }
        Ok((file, metadata.len()))
    }

    impl<R: Read> StreamSource for ReaderSource<R> {
        fn total_len(&self) -> u64 {
            self.declared_len
        }

        fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
            match self.reader.read_exact(dst) {
                Ok(()) => {
                    self.delivered += dst.len() as u64;
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::new(
                    ErrorKind::SourceTruncated,
                    format!(
                        "source ended after about {} of {} declared bytes",
                        self.delivered, self.declared_len
                    ),
                )
                .with_source(e)),
                Err(e) => Err(Error::new(
                    ErrorKind::SourceFailed,
                    format!("read failed after {} bytes", self.delivered),
                )
                .with_source(e)),
            }
        }

        fn finish(&mut self) -> Result<()> {
            let mut probe = [0u8; 1];
            loop {
                return match self.reader.read(&mut probe) {
                    Ok(0) => Ok(()),
                    Ok(_) => Err(Error::new(
                        ErrorKind::SourceOverlong,
                        format!(
                            "source has more than its {} declared bytes",
                            self.declared_len
                        ),
                    )),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(Error::new(
                        ErrorKind::SourceFailed,
                        "read failed at the end of the stream",
                    )
                    .with_source(e)),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_source_hands_out_consecutive_chunks() {
        let mut s = BytesSource::new(&b"hello world"[..]);
        assert_eq!(s.total_len(), 11);
        let mut a = [0u8; 5];
        let mut b = [0u8; 6];
        s.read_exact_into(&mut a).unwrap();
        s.read_exact_into(&mut b).unwrap();
        assert_eq!((&a, &b), (b"hello", b" world"));
        let err = s.read_exact_into(&mut [0u8; 1]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SourceTruncated);
        s.finish().unwrap();
    }

    #[test]
    fn static_bytes_are_a_source_without_a_copy() {
        static STATE: &[u8] = b"kept in flash";
        let mut s = BytesSource::from_static(STATE);
        let mut dst = [0u8; 13];
        s.read_exact_into(&mut dst).unwrap();
        assert_eq!(&dst, STATE);
    }

    #[test]
    fn pull_source_gathers_partial_pulls_and_checks_its_length() {
        // A peripheral that hands out at most 3 bytes per pull.
        let peripheral = |data: &'static [u8]| {
            let mut at = 0;
            move |dst: &mut [u8]| -> Result<usize> {
                let n = dst.len().min(3).min(data.len() - at);
                dst[..n].copy_from_slice(&data[at..at + n]);
                at += n;
                Ok(n)
            }
        };
        let mut exact = PullSource::new(8, peripheral(b"abcdefgh"));
        let mut dst = [0u8; 8];
        exact.read_exact_into(&mut dst[..5]).unwrap();
        exact.read_exact_into(&mut dst[5..]).unwrap();
        assert_eq!(&dst, b"abcdefgh");
        exact.finish().unwrap();

        let mut short = PullSource::new(8, peripheral(b"abc"));
        let e = short.read_exact_into(&mut dst).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceTruncated);

        let mut long = PullSource::new(2, peripheral(b"abc"));
        long.read_exact_into(&mut dst[..2]).unwrap();
        assert_eq!(long.finish().unwrap_err().kind(), ErrorKind::SourceOverlong);

        let mut liar = PullSource::new(4, |dst: &mut [u8]| Ok(dst.len() + 1));
        let e = liar.read_exact_into(&mut dst[..4]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SourceFailed);
        let mut broken = PullSource::new(4, |_: &mut [u8]| {
            Err(Error::new(ErrorKind::SourceFailed, "bus error"))
        });
        let e = broken.read_exact_into(&mut dst[..4]).unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::SourceFailed, "bus error")
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn reader_source_reports_short_and_long_readers() {
        let mut short = ReaderSource::new(&b"abc"[..], 5);
        let mut dst = [0u8; 5];
        assert_eq!(
            short.read_exact_into(&mut dst).unwrap_err().kind(),
            ErrorKind::SourceTruncated
        );

        let mut long = ReaderSource::new(&b"abcdef"[..], 5);
        long.read_exact_into(&mut dst).unwrap();
        assert_eq!(&dst, b"abcde");
        assert_eq!(long.finish().unwrap_err().kind(), ErrorKind::SourceOverlong);

        let mut exact = ReaderSource::new(&b"abcde"[..], 5);
        exact.read_exact_into(&mut dst).unwrap();
        exact.finish().unwrap();
    }

    #[cfg(feature = "std")]
    #[test]
    fn reader_source_reports_io_errors_as_source_failed() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let mut s = ReaderSource::new(Broken, 3);
        let err = s.read_exact_into(&mut [0u8; 3]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SourceFailed);
    }

    #[cfg(feature = "std")]
    #[test]
    fn opening_a_missing_file_names_it() {
        let err = ReaderSource::open("no/such/refill-state.bin").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::SourceFailed);
        assert!(err.message().contains("no/such/refill-state.bin"));
    }
}
