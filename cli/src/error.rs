//! What can go wrong in the CLI, each shown as one line.

/// A failure of a `refill` command.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// refill itself: a trap, a refill check, a limit, a bad module.
    #[error(transparent)]
    Refill(#[from] refill::Error),
    /// Hosting a freenet contract or delegate.
    #[cfg(feature = "freenet")]
    #[error(transparent)]
    Freenet(#[from] refill::freenet::Error),
    /// Flags that do not fit together, or a file that cannot be used.
    #[error("{0}")]
    Usage(String),
    /// A demo or check found a result that differs from the host's.
    #[error("stream corrupted: {0}")]
    Corrupted(String),
    /// Writing output failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

/// The result type of the CLI's commands.
pub(crate) type CliResult<T> = Result<T, CliError>;
