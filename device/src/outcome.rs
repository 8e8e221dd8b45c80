//! What one case produced, what all of them add up to, and the runner that
//! reports each case as it finishes.

use alloc::format;
use alloc::string::String;
use core::fmt;

use refill::Error;

/// What one case produced: its name, a one-line result that is the same
/// wherever the case runs, and whether it met its expectation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The case, e.g. `stream/chunk=256/len=255`.
    pub name: String,
    /// What happened, in one line: `digest=0x…, fills=…, memory=…` or
    /// `error=<ErrorKind>, then …`.
    pub result: String,
    /// Whether the result is what the case expects.
    pub passed: bool,
    /// What the case expects, in the same terms as `result`.
    pub expected: String,
}

impl Outcome {
    /// `name: result`: the part that must be identical on every host.
    pub fn line(&self) -> String {
        format!("{}: {}", self.name, self.result)
    }
}

impl fmt::Display for Outcome {
    /// `ok <name>: <result>`, or `FAIL <name>: <result> (expected …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed {
            write!(f, "ok {}: {}", self.name, self.result)
        } else {
            write!(
                f,
                "FAIL {}: {} (expected {})",
                self.name, self.result, self.expected
            )
        }
    }
}

/// How many cases passed and failed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Cases that met their expectation.
    pub passed: usize,
    /// Cases that did not.
    pub failed: usize,
}

impl Summary {
    /// Whether every case passed (and there was at least one).
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

impl fmt::Display for Summary {
    /// `N passed, M failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// What a case checked: its result line and the expectation it holds it to.
pub(crate) struct Checked {
    pub(crate) result: String,
    pub(crate) expected: String,
    pub(crate) passed: bool,
}

impl Checked {
    /// A result that passes when it equals `expected` exactly.
    pub(crate) fn equal(result: String, expected: String) -> Self {
        Self {
            passed: result == expected,
            result,
            expected,
        }
    }

    /// A result line for an error nobody expected: its kind and message.
    pub(crate) fn unexpected(error: &Error, expected: String) -> Self {
        Self {
            result: format!("error={:?} ({})", error.kind(), error.message()),
            expected,
            passed: false,
        }
    }
}

/// Runs cases one after the other, reporting each outcome as it comes.
pub(crate) struct Runner<'r> {
    report: &'r mut dyn FnMut(&Outcome),
    pub(crate) summary: Summary,
}

impl<'r> Runner<'r> {
    pub(crate) fn new(report: &'r mut dyn FnMut(&Outcome)) -> Self {
        Self {
            report,
            summary: Summary::default(),
        }
    }

    /// Runs one case named `name` and reports it.
    pub(crate) fn case(&mut self, name: String, run: impl FnOnce() -> Checked) {
        let Checked {
            result,
            expected,
            passed,
        } = run();
        let outcome = Outcome {
            name,
            result,
            passed,
            expected,
        };
        if passed {
            self.summary.passed += 1;
        } else {
            self.summary.failed += 1;
        }
        (self.report)(&outcome);
    }
}
