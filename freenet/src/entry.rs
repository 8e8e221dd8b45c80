//! The four entry points of a freenet contract.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, ErrorKind};

use crate::record::ResultKind;

/// An entry point of a freenet contract: what it is called, which arguments
/// it streams and which kind of result it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entry {
    /// `validate_state(parameters, state, related) -> i64`.
    Validate,
    /// `update_state(parameters, state, updates) -> i64`.
    Update,
    /// `summarize_state(parameters, state) -> i64`.
    Summarize,
    /// `get_state_delta(parameters, state, summary) -> i64`.
    Delta,
}

impl Entry {
    /// Every entry point, in the order of the contract interface.
    pub const ALL: [Self; 4] = [Self::Validate, Self::Update, Self::Summarize, Self::Delta];

    /// The short name the CLI takes (`validate`, `update`, `summarize`, `delta`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Validate => "validate",
            Self::Update => "update",
            Self::Summarize => "summarize",
            Self::Delta => "delta",
        }
    }

    /// The export the contract defines for it.
    pub const fn export(self) -> &'static str {
        match self {
            Self::Validate => "validate_state",
            Self::Update => "update_state",
            Self::Summarize => "summarize_state",
            Self::Delta => "get_state_delta",
        }
    }

    /// The names of its arguments, in order; each is streamed.
    pub const fn arguments(self) -> &'static [&'static str] {
        match self {
            Self::Validate => &["parameters", "state", "related"],
            Self::Update => &["parameters", "state", "updates"],
            Self::Summarize => &["parameters", "state"],
            Self::Delta => &["parameters", "state", "summary"],
        }
    }

    /// The result kind its record must declare when it succeeds.
    pub const fn result_kind(self) -> ResultKind {
        match self {
            Self::Validate => ResultKind::ValidateState,
            Self::Update => ResultKind::UpdateState,
            Self::Summarize => ResultKind::SummarizeState,
            Self::Delta => ResultKind::StateDelta,
        }
    }
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Entry {
    type Err = Error;

    /// The short name or the export's name.
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == s || e.export() == s)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Refill(refill_core::ErrorKind::MissingExport),
                    format!(
                        "unknown entry point `{s}`: expected validate, update, summarize or delta"
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_arities_match_the_interface() {
        for e in Entry::ALL {
            assert_eq!(e.name().parse::<Entry>().unwrap(), e);
            assert_eq!(e.export().parse::<Entry>().unwrap(), e);
            assert_eq!(e.arguments()[..2], ["parameters", "state"]);
        }
        assert_eq!(Entry::Summarize.arguments().len(), 2);
        assert_eq!(Entry::Update.arguments().len(), 3);
        assert!("merge".parse::<Entry>().is_err());
    }
}
