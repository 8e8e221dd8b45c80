//! What the freenet imports keep for each instance.

use crate::key::DelegateKey;

/// One instance's state, kept by refill's host (one state slot of the
/// instance) and seen only by that instance's host calls.
#[derive(Debug, Default)]
pub struct InstanceEnv {
    /// Bytes logged so far, against `HostLimits::max_log_bytes`.
    pub(crate) log_bytes: u64,
    /// Log lines dropped once that budget was spent.
    pub(crate) log_dropped: u64,
    /// The delegate context, kept across `process` calls of the instance.
    pub(crate) context: Vec<u8>,
    /// Set while a delegate's `process` runs; the delegate imports answer
    /// "not in process" otherwise.
    pub(crate) call: Option<DelegateCall>,
}

/// The delegate `process` call in progress.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DelegateCall {
    /// The delegate's key: its secrets' scope.
    pub(crate) key: DelegateKey,
    /// Delegates created so far in this call.
    pub(crate) creations: u32,
}

impl InstanceEnv {
    /// A delegate's `process` call begins: the delegate imports answer for
    /// `key` until [`InstanceEnv::end_call`]. [`crate::Delegate`] does this
    /// around every call; a host calling delegates its own way does it too.
    pub fn begin_call(&mut self, key: DelegateKey) {
        self.call = Some(DelegateCall { key, creations: 0 });
    }

    /// The call has returned or trapped: the delegate imports answer "not
    /// in process" again.
    pub fn end_call(&mut self) {
        self.call = None;
    }

    /// The delegate context, as the delegate last wrote it.
    pub fn context(&self) -> &[u8] {
        &self.context
    }

    /// Log lines dropped because the instance's log budget was spent.
    pub fn dropped_log_lines(&self) -> u64 {
        self.log_dropped
    }
}
