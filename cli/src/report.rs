//! What `refill run` and `refill freenet` report.

use refill::Instance;

use crate::error::{CliError, CliResult};
use serde::Serialize;

/// The streaming figures of one call, common to every report.
#[derive(Clone, Copy, Debug, Serialize)]
pub(crate) struct CallFigures {
    /// Refill calls served.
    pub(crate) fills: u64,
    /// Payload bytes written into guest memory.
    pub(crate) bytes_streamed: u64,
    /// Drains of output streams the guest made.
    pub(crate) drains: u64,
    /// Output bytes taken from the guest into the outputs.
    pub(crate) bytes_drained: u64,
    /// Guest linear memory size after the call.
    pub(crate) peak_memory_bytes: u64,
    /// Wall time of streaming and the call, in seconds.
    pub(crate) elapsed_s: f64,
}

impl CallFigures {
    /// The figures of `instance` after a call that took `elapsed_s`.
    pub(crate) fn of(instance: &(impl Instance + ?Sized), elapsed_s: f64) -> Self {
        let stats = instance.stats();
        Self {
            fills: stats.fills,
            bytes_streamed: stats.bytes_streamed,
            drains: stats.drains,
            bytes_drained: stats.bytes_drained,
            peak_memory_bytes: instance.memory_size(),
            elapsed_s,
        }
    }

    /// Streaming throughput in GiB/s.
    pub(crate) fn gib_per_s(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.bytes_streamed as f64 / self.elapsed_s / f64::from(1u32 << 30)
        } else {
            0.0
        }
    }
}

/// One call's outcome, printed by `refill run --json`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct RunReport {
    /// The engine that ran the call.
    pub(crate) engine: &'static str,
    /// The export called.
    pub(crate) export: String,
    /// The export's return value.
    pub(crate) result: i64,
    /// What the module cache did (`hit`, `miss`, `recompiled`,
    /// `uncached`); absent without a cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cache: Option<&'static str>,
    /// Its streaming figures.
    #[serde(flatten)]
    pub(crate) figures: CallFigures,
}

/// Prints `report` as one line of JSON on stdout, or on stderr when
/// `to_stderr` (standard output carries a guest's output stream).
pub(crate) fn print_json(report: &impl Serialize, to_stderr: bool) -> CliResult<()> {
    let json = serde_json::to_string(report).map_err(|e| CliError::Io {
        what: "cannot encode the report".into(),
        source: e.into(),
    })?;
    if to_stderr {
        eprintln!("{json}");
    } else {
        println!("{json}");
    }
    Ok(())
}
