//! `freenet_log.__frnt__logger__info(id: i64, ptr: i64, len: i32)`: a log
//! line from the guest, bounds-checked, read as lossy UTF-8, emitted to
//! `tracing` (target `contract`, level info) and to the host's [`LogSink`].

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use refill_core::{Caller, HostFunctions, Result, StateSlot};

use super::env::InstanceEnv;
use super::{FreenetHost, check_id};

/// The import module.
const MODULE: &str = "freenet_log";
/// The import's name.
const INFO: &str = "__frnt__logger__info";

/// One log line of a guest.
#[derive(Clone, Copy, Debug)]
pub struct LogRecord<'a> {
    /// The id of the instance that logged it.
    pub instance_id: i64,
    /// The line, invalid UTF-8 replaced by U+FFFD.
    pub message: &'a str,
    /// The length the guest gave when it was longer than the host keeps
    /// (`HostLimits::max_log_line`); `message` then holds the first part.
    pub truncated_from: Option<u32>,
}

/// Where guest log lines go besides `tracing`. The embedder's to replace.
pub trait LogSink: Send + Sync {
    /// Takes one line.
    fn log(&self, record: &LogRecord<'_>);
}

/// The default sink: nothing beyond the `tracing` event every line gets.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingOnly;

impl LogSink for TracingOnly {
    fn log(&self, _: &LogRecord<'_>) {}
}

/// Writes each line to standard error as `[contract <id>] <line>`.
#[derive(Clone, Copy, Debug, Default)]
pub struct StderrLog;

impl LogSink for StderrLog {
    fn log(&self, record: &LogRecord<'_>) {
        let mut stderr = std::io::stderr().lock();
        // A closed stderr must not fail the guest's call.
        let _ = writeln!(
            stderr,
            "[contract {}] {}",
            record.instance_id,
            shown(record)
        );
    }
}

/// Keeps every line, for tests and hosts that collect them.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    lines: Arc<Mutex<Vec<(i64, String)>>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every line so far, with the id of the instance that logged it.
    pub fn lines(&self) -> Vec<(i64, String)> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl LogSink for MemoryLog {
    fn log(&self, record: &LogRecord<'_>) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((record.instance_id, shown(record)));
    }
}

/// The line as sinks show it: a truncated one says so.
fn shown(record: &LogRecord<'_>) -> String {
    match record.truncated_from {
        Some(len) => format!("{}… (truncated from {len} bytes)", record.message),
        None => record.message.to_owned(),
    }
}

pub(super) fn define(set: &mut HostFunctions, host: &FreenetHost, env: StateSlot<InstanceEnv>) {
    let sink = Arc::clone(&host.log);
    let limits = host.limits;
    set.func(
        MODULE,
        INFO,
        move |caller: &mut Caller<'_>, id: i64, ptr: i64, len: i32| -> Result<()> {
            check_id(caller, id)?;
            // The whole range must be the guest's, even the part not kept.
            let range = caller.range(ptr, i64::from(len))?;
            let kept = range.len().min(limits.max_log_line);
            let instance_id = caller.instance_id();
            let state = caller.state(env)?;
            if state.log_bytes.saturating_add(u64::from(kept)) > limits.max_log_bytes {
                if state.log_dropped == 0 {
                    tracing::warn!(
                        target: "contract",
                        instance = instance_id,
                        "the instance has logged {} bytes, its budget; further lines are dropped",
                        state.log_bytes
                    );
                }
                state.log_dropped += 1;
                return Ok(());
            }
            state.log_bytes += u64::from(kept);
            let bytes = caller.read_capped(ptr, i64::from(kept), kept)?;
            let message = String::from_utf8_lossy(&bytes);
            let truncated_from = (kept < range.len()).then_some(range.len());
            tracing::info!(target: "contract", instance = instance_id, "{message}");
            sink.log(&LogRecord {
                instance_id,
                message: &message,
                truncated_from,
            });
            Ok(())
        },
    );
}
