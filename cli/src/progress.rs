//! A progress bar on stderr for long streams, when stderr is a terminal.

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use refill::{BoxedSource, IntoBoxedSource, Result, StreamSource};

/// Streams at least this long get a progress bar.
pub(crate) const PROGRESS_THRESHOLD: u64 = 16 << 20;

/// Whether to draw a bar for streams of `lengths` when stderr is (or is
/// not) a terminal: only on a terminal, and only if one stream is long.
pub(crate) fn wants_progress(stderr_is_terminal: bool, lengths: &[u64]) -> bool {
    stderr_is_terminal && lengths.iter().any(|&len| len >= PROGRESS_THRESHOLD)
}

/// Runs `call` with `sources` and times it, with a bar on stderr that
/// follows the bytes they deliver into the guest if [`wants_progress`] says
/// so (removed when the call is over, whatever its outcome). Returns the
/// call's result and its wall time in seconds.
pub(crate) fn timed<R>(
    sources: Vec<BoxedSource>,
    call: impl FnOnce(Vec<BoxedSource>) -> R,
) -> (R, f64) {
    let (sources, bar) = track(sources);
    let started = Instant::now();
    let result = call(sources);
    let elapsed_s = started.elapsed().as_secs_f64();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    (result, elapsed_s)
}

/// Wraps `sources` so that a bar on stderr follows the bytes they deliver
/// into the guest, if [`wants_progress`] says so; otherwise they are
/// returned as they are and nothing is drawn.
fn track(sources: Vec<BoxedSource>) -> (Vec<BoxedSource>, Option<ProgressBar>) {
    let lengths: Vec<u64> = sources.iter().map(|s| s.total_len()).collect();
    if !wants_progress(std::io::stderr().is_terminal(), &lengths) {
        return (sources, None);
    }
    let bar =
        ProgressBar::with_draw_target(Some(lengths.iter().sum()), ProgressDrawTarget::stderr());
    (counted(sources, &bar), Some(bar.with_style(style())))
}

/// `sources`, each adding what it delivers to `bar`.
fn counted(sources: Vec<BoxedSource>, bar: &ProgressBar) -> Vec<BoxedSource> {
    sources
        .into_iter()
        .map(|inner| {
            Counted {
                inner,
                bar: bar.clone(),
            }
            .boxed()
        })
        .collect()
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template(
        "{spinner} streaming [{bar:40}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

/// A source that counts the bytes it delivers on a progress bar.
struct Counted {
    inner: BoxedSource,
    bar: ProgressBar,
}

impl StreamSource for Counted {
    fn total_len(&self) -> u64 {
        self.inner.total_len()
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        self.inner.read_exact_into(dst)?;
        self.bar.inc(dst.len() as u64);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use refill::BytesSource;

    #[test]
    fn only_long_streams_on_a_terminal_get_a_bar() {
        let long = PROGRESS_THRESHOLD;
        assert!(wants_progress(true, &[10, long]));
        assert!(!wants_progress(true, &[10, long - 1]));
        assert!(!wants_progress(false, &[long, long]));
        assert!(!wants_progress(true, &[]));
    }

    #[test]
    fn counted_sources_deliver_the_same_bytes_and_count_them() {
        let bar = ProgressBar::hidden();
        let data: Vec<u8> = (0..100u8).collect();
        let mut sources = counted(vec![BytesSource::new(data.clone()).boxed()], &bar);
        let source = &mut sources[0];
        assert_eq!(source.total_len(), 100);
        let mut got = vec![0u8; 100];
        source.read_exact_into(&mut got[..60]).unwrap();
        assert_eq!(bar.position(), 60);
        source.read_exact_into(&mut got[60..]).unwrap();
        source.finish().unwrap();
        assert_eq!(got, data);
        assert_eq!(bar.position(), 100);
    }
}
