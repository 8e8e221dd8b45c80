//! The error type of refill-freenet: refill's own errors (traps, refill
//! checks, limits), and the ones only a freenet host has (a malformed result,
//! the contract's or delegate's own error, a refused legacy contract).

use core::fmt;

use refill_core::error::BoxedError;

/// What went wrong, as a value to match on.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// One of refill's own errors: a trap, a refill check, a limit, a host
    /// function's failure.
    Refill(refill_core::ErrorKind),
    /// A result record or its payload is malformed: an unknown kind, a kind
    /// that does not match the entry point called, or a payload that is not
    /// a serialized result.
    InvalidResult,
    /// The contract ran and returned its own error (freenet's
    /// `ContractError`); the message is the contract's.
    ContractError,
    /// The delegate ran and returned its own error (freenet's
    /// `DelegateError`); the message is the delegate's.
    DelegateError,
    /// A contract built before the streaming ABI, refused by the host's policy.
    LegacyContract,
}

impl ErrorKind {
    /// A short, stable description of the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Refill(kind) => kind.as_str(),
            Self::InvalidResult => "invalid result",
            Self::ContractError => "contract error",
            Self::DelegateError => "delegate error",
            Self::LegacyContract => "legacy contract refused",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from hosting a freenet contract or delegate.
///
/// Displayed as `kind: message`. The source is not repeated there: it is
/// reachable through `source()`, and error reporters print the chain
/// themselves.
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    kind: ErrorKind,
    message: String,
    #[source]
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

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The same error with `what` put in front of its message.
    #[must_use]
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl From<refill_core::Error> for Error {
    fn from(error: refill_core::Error) -> Self {
        let (kind, message, source) = error.into_parts();
        Self {
            kind: ErrorKind::Refill(kind),
            message,
            source,
        }
    }
}

/// The result type of refill-freenet.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refill_errors_keep_their_kind_message_and_source() {
        let io = std::io::Error::other("disk on fire");
        let core = refill_core::Error::new(refill_core::ErrorKind::SourceFailed, "read failed")
            .with_source(io);
        let e = Error::from(core).context("validate_state, argument `state`");
        assert_eq!(
            e.kind(),
            ErrorKind::Refill(refill_core::ErrorKind::SourceFailed)
        );
        assert_eq!(
            e.to_string(),
            "stream source failed: validate_state, argument `state`: read failed"
        );
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("disk on fire"));
        assert_eq!(ErrorKind::DelegateError.to_string(), "delegate error");
    }
}
