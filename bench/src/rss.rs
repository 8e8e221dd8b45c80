//! The host's resident set size and threads, from Linux's `/proc/self`.
//!
//! [`reset_peak`] writes `5` to `/proc/self/clear_refs`, which sets the peak
//! (`VmHWM`) back to the current RSS; [`peak_bytes`] reads `VmHWM` after the
//! work. Their difference is how much the work grew the process, guest
//! memories of JIT engines (mapped into the process) included. Elsewhere
//! both return `None`.

/// Sets the peak RSS back to the current RSS; `false` if it cannot.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's current RSS in bytes.
pub fn current_bytes() -> Option<u64> {
    status_field("VmRSS:").map(|kib| kib * 1024)
}

/// The process's peak RSS in bytes since start or the last [`reset_peak`].
pub fn peak_bytes() -> Option<u64> {
    status_field("VmHWM:").map(|kib| kib * 1024)
}

/// The process's threads.
pub fn threads() -> Option<u64> {
    status_field("Threads:")
}

/// The number in the `/proc/self/status` line that starts with `field`
/// (a unit after it, such as `kB`, is dropped).
fn status_field(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Runs `work` and returns its result with the growth of the peak RSS over
/// the RSS before it, if the platform tells.
pub fn peak_growth<R>(work: impl FnOnce() -> R) -> (R, Option<u64>) {
    let reset = reset_peak();
    let before = current_bytes();
    let result = work();
    let growth = match (reset, before, peak_bytes()) {
        (true, Some(before), Some(peak)) => Some(peak.saturating_sub(before)),
        _ => None,
    };
    (result, growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_touched_allocation_shows_as_growth() {
        if !reset_peak() {
            return; // not Linux: nothing to measure
        }
        let (len, growth) = peak_growth(|| {
            let v = vec![1u8; 64 << 20];
            std::hint::black_box(&v).len()
        });
        assert_eq!(len, 64 << 20);
        let growth = growth.unwrap_or(0);
        assert!(growth >= 60 << 20, "growth {growth}");
    }
}
