//! The engines refill knows, by name.

use core::fmt;
use core::str::FromStr;

use refill_core::{Error, ErrorKind};

/// An engine refill can bind, whether or not it is compiled in.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// wasmi 2.0, the pure-Rust interpreter (feature `wasmi`).
    Wasmi,
    /// wasmtime 48 with Cranelift (feature `wasmtime`).
    Wasmtime,
    /// wasmer 7.4 with singlepass (feature `wasmer`).
    Wasmer,
}

impl EngineKind {
    /// Every engine refill knows.
    pub const ALL: [EngineKind; 3] = [Self::Wasmi, Self::Wasmtime, Self::Wasmer];

    /// The engine's name: `wasmi`, `wasmtime` or `wasmer`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Wasmi => "wasmi",
            Self::Wasmtime => "wasmtime",
            Self::Wasmer => "wasmer",
        }
    }

    /// Whether this build has the engine compiled in.
    pub const fn is_compiled(self) -> bool {
        match self {
            Self::Wasmi => cfg!(feature = "wasmi"),
            Self::Wasmtime => cfg!(feature = "wasmtime"),
            Self::Wasmer => cfg!(feature = "wasmer"),
        }
    }

    /// The engines compiled into this build.
    pub fn compiled() -> impl Iterator<Item = EngineKind> {
        Self::ALL.into_iter().filter(|k| k.is_compiled())
    }

    /// The kind of [`crate::DefaultEngine`].
    pub fn default_kind() -> EngineKind {
        use refill_core::Engine;
        Self::from_str(<crate::DefaultEngine as Engine>::NAME).unwrap_or(Self::Wasmi)
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownEngine,
                    format!(
                        "no engine is called `{name}`; refill knows wasmi, wasmtime and wasmer"
                    ),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for kind in EngineKind::ALL {
            assert_eq!(kind.name().parse::<EngineKind>().unwrap(), kind);
        }
        assert_eq!("WASMI".parse::<EngineKind>().unwrap(), EngineKind::Wasmi);
        let e = "v8".parse::<EngineKind>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownEngine);
    }

    #[test]
    fn the_default_engine_is_compiled() {
        assert!(EngineKind::default_kind().is_compiled());
        assert!(EngineKind::compiled().count() >= 1);
    }
}
