//! The one error type of refill: a kind to match on, a message for people, and
//! the engine's or the source's own error as `source`.

use alloc::boxed::Box;
use alloc::string::String;
use core::fmt;

/// What went wrong, as a value to match on. Messages are for people; tests and
/// embedders match on the kind.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The 32-byte buffer descriptor does not lie inside guest memory.
    DescriptorOutOfBounds,
    /// The data area named by a descriptor does not lie inside guest memory or
    /// the 32-bit address space.
    DataAreaOutOfBounds,
    /// A cursor cell (`last_read` or `last_write`) does not lie inside guest memory.
    CursorOutOfBounds,
    /// Two parts of one buffer (descriptor, data area, cursor cells) overlap.
    BufferOverlap,
    /// The data area is too small for the header or for the data still pending.
    BufferTooSmall,
    /// The guest passed an instance id that is not its own.
    WrongInstanceId,
    /// The guest asked to refill a buffer address that the host never primed.
    UnknownBuffer,
    /// A payload is longer than the header can say (`u32::MAX`) or a limit allows.
    PayloadTooLarge,
    /// A chunk size outside the accepted range or the instance's limit.
    InvalidChunkSize,
    /// The instance already has as many open streams as its limit allows.
    TooManyStreams,
    /// The guest's memory would exceed the instance's limit.
    MemoryLimitExceeded,
    /// The guest's tables would hold more elements than the instance's
    /// limit, or the module has more tables than it allows.
    TableLimitExceeded,
    /// The module would make more instances in one store than the limit
    /// allows.
    InstanceLimitExceeded,
    /// The guest used up the CPU budget (fuel) of the call.
    CpuBudgetExhausted,
    /// The call ran past its wall-clock deadline and was stopped.
    DeadlineExceeded,
    /// The guest's call stack outgrew the engine's limit (endless or too
    /// deep recursion): the guest trapped, the host is unharmed.
    StackExhausted,
    /// The instance was left in an unknown state by a panic in a host
    /// function or a source during an earlier call, and refuses every call
    /// since.
    Poisoned,
    /// Something this build or engine cannot do: limits the engine was not
    /// built for (fuel without fuel metering), an engine not compiled in.
    Unsupported,
    /// The host-side stream source failed (an I/O error).
    SourceFailed,
    /// The host-side stream source ended before its declared length.
    SourceTruncated,
    /// The host-side stream source has more bytes than it declared.
    SourceOverlong,
    /// An output stream's sink refused the bytes a drain handed it (a write
    /// that failed).
    SinkFailed,
    /// A guest streamed out more than [`crate::Limits::max_output_bytes`].
    OutputTooLarge,
    /// The bytes given are not a valid WebAssembly module for this engine.
    InvalidModule,
    /// The module does not export what the call needs.
    MissingExport,
    /// An export or import has the wrong type.
    SignatureMismatch,
    /// Instantiation failed (unresolvable import, start function trap, ...).
    Instantiation,
    /// The guest trapped (unreachable, out-of-bounds access, stack overflow, ...).
    Trap,
    /// A guest address the host was asked to read back lies outside guest memory.
    ResultOutOfBounds,
    /// A guest address and length passed to a host function lie outside
    /// guest memory (or the length is negative).
    ArgumentOutOfBounds,
    /// The module imports functions the host does not provide, or provides
    /// with another type; the message names every one with its signature.
    MissingImport,
    /// A host function failed for a reason of its own (the embedder's error
    /// is the source).
    HostFunction,
    /// A compiled-module artifact (a module cache's file) failed its
    /// envelope's checks (magic, format, key, length, checksum) or the
    /// engine refused it: it is never loaded, and the module is compiled
    /// instead. The [`crate::artifact::Rejection`] is the source.
    InvalidArtifact,
    /// Any other failure reported by an engine.
    Engine,
}

impl ErrorKind {
    /// A short, stable description of the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DescriptorOutOfBounds => "buffer descriptor out of bounds",
            Self::DataAreaOutOfBounds => "buffer data area out of bounds",
            Self::CursorOutOfBounds => "buffer cursor out of bounds",
            Self::BufferOverlap => "buffer parts overlap",
            Self::BufferTooSmall => "buffer too small",
            Self::WrongInstanceId => "wrong instance id",
            Self::UnknownBuffer => "unknown buffer",
            Self::PayloadTooLarge => "payload too large",
            Self::InvalidChunkSize => "invalid chunk size",
            Self::TooManyStreams => "too many open streams",
            Self::MemoryLimitExceeded => "memory limit exceeded",
            Self::TableLimitExceeded => "table limit exceeded",
            Self::InstanceLimitExceeded => "instance limit exceeded",
            Self::CpuBudgetExhausted => "cpu budget exhausted",
            Self::DeadlineExceeded => "deadline exceeded",
            Self::StackExhausted => "guest stack exhausted",
            Self::Poisoned => "instance poisoned by an earlier panic",
            Self::Unsupported => "unsupported by this engine's configuration",
            Self::SourceFailed => "stream source failed",
            Self::SourceTruncated => "stream source truncated",
            Self::SourceOverlong => "stream source overlong",
            Self::SinkFailed => "stream sink failed",
            Self::OutputTooLarge => "output too large",
            Self::InvalidModule => "invalid module",
            Self::MissingExport => "missing export",
            Self::SignatureMismatch => "signature mismatch",
            Self::Instantiation => "instantiation failed",
            Self::Trap => "guest trapped",
            Self::ResultOutOfBounds => "result out of bounds",
            Self::ArgumentOutOfBounds => "host call argument out of bounds",
            Self::MissingImport => "missing import",
            Self::HostFunction => "host function failed",
            Self::InvalidArtifact => "invalid compiled-module artifact",
            Self::Engine => "engine error",
        }
    }

    /// Whether the guest caused this error through the refill ABI or a host
    /// call (a hostile or buggy guest), as opposed to the host, the module or
    /// the engine.
    pub const fn is_guest_fault(self) -> bool {
        matches!(
            self,
            Self::DescriptorOutOfBounds
                | Self::DataAreaOutOfBounds
                | Self::CursorOutOfBounds
                | Self::BufferOverlap
                | Self::BufferTooSmall
                | Self::WrongInstanceId
                | Self::UnknownBuffer
                | Self::ArgumentOutOfBounds
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The underlying error of an [`Error`], if any.
pub type BoxedError = Box<dyn core::error::Error + Send + Sync + 'static>;

/// An error from refill: its [`ErrorKind`], a message naming what was wrong,
/// and optionally the underlying error of an engine or a source.
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<BoxedError>,
}

impl Error {
    /// A new error of `kind` with a message naming what was wrong.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxedError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The module does not export `name`.
    pub fn missing_export(name: &str) -> Self {
        Self::new(
            ErrorKind::MissingExport,
            alloc::format!("the module has no export `{name}`"),
        )
    }

    /// An export or import has another type than the ABI requires.
    pub fn signature_mismatch(name: &str, expected: &str, found: impl fmt::Debug) -> Self {
        Self::new(
            ErrorKind::SignatureMismatch,
            alloc::format!("`{name}` must have type {expected}, found {found:?}"),
        )
    }

    /// The guest trapped for a reason of its own (not a refill check).
    pub fn trap(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Trap, alloc::format!("{message}"))
    }

    /// A host function failed: the error an embedder's host function
    /// returns, carried through the guest's trap back to the caller.
    pub fn host(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::HostFunction, message)
    }

    /// The same error with `what` put in front of its message
    /// (`"what: message"`): where it happened, for the reader.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = alloc::format!("{what}: {}", self.message);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message naming what was wrong, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The kind, the message and the source, taken apart: for crates that
    /// wrap refill's errors in error types of their own.
    pub fn into_parts(self) -> (ErrorKind, String, Option<BoxedError>) {
        (self.kind, self.message, self.source)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Error");
        s.field("kind", &self.kind).field("message", &self.message);
        if let Some(source) = &self.source {
            s.field("source", source);
        }
        s.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source is not repeated here: it is reachable through
        // `source()`, and error reporters print the chain themselves.
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn core::error::Error + 'static))
    }
}

/// The result type of refill.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn display_names_kind_and_message_and_source_is_chained() {
        #[derive(Debug)]
        struct Inner;
        impl fmt::Display for Inner {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("inner cause")
            }
        }
        impl core::error::Error for Inner {}

        let e = Error::new(ErrorKind::UnknownBuffer, "no stream at 0x10").with_source(Inner);
        assert_eq!(e.to_string(), "unknown buffer: no stream at 0x10");
        assert_eq!(e.kind(), ErrorKind::UnknownBuffer);
        let source = core::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("inner cause"));
    }

    #[test]
    fn guest_faults_are_the_abi_violations() {
        assert!(ErrorKind::CursorOutOfBounds.is_guest_fault());
        assert!(!ErrorKind::SourceFailed.is_guest_fault());
        assert!(!ErrorKind::Trap.is_guest_fault());
    }
}
