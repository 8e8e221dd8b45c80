//! The engines refill knows, by name, whether or not they are compiled in.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use refill_core::Engine;

macro_rules! define_engine_kind {
    ($($variant:ident $name:ident $feature:literal $krate:ident $engine:ident $module:ident
       $linked:ident $instance:ident $version:literal $summary:literal;)*) => {
        /// An engine refill can bind, whether or not it is compiled in.
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EngineKind {
            $(
                #[doc = concat!(stringify!($name), " ", $version, ": ", $summary, " (feature `", $feature, "`).")]
                $variant,
            )*
        }

        impl EngineKind {
            /// Every engine refill knows, in the order of its table.
            pub const ALL: &'static [EngineKind] = &[$(Self::$variant),*];

            /// The engine's name: also its cargo feature and its `--engine` value.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $feature,)*
                }
            }

            /// The version of the engine refill builds against.
            pub const fn version(self) -> &'static str {
                match self {
                    $(Self::$variant => $version,)*
                }
            }

            /// What the engine is, in a few words.
            pub const fn summary(self) -> &'static str {
                match self {
                    $(Self::$variant => $summary,)*
                }
            }

            /// Whether this build has the engine compiled in.
            pub const fn is_compiled(self) -> bool {
                match self {
                    $(Self::$variant => cfg!(feature = $feature),)*
                }
            }
        }
    };
}

crate::for_each_engine!(define_engine_kind);

impl EngineKind {
    /// The engines compiled into this build.
    pub fn compiled() -> impl Iterator<Item = EngineKind> {
        Self::ALL.iter().copied().filter(|k| k.is_compiled())
    }

    /// The kind of [`crate::DefaultEngine`].
    pub fn default_kind() -> EngineKind {
        let name = crate::DefaultEngine::default().name();
        Self::compiled()
            .find(|kind| kind.name() == name)
            .unwrap_or(Self::ALL[0])
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine name that is none of [`EngineKind::ALL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownEngine {
    name: String,
}

impl fmt::Display for UnknownEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = EngineKind::ALL.iter().map(|k| k.name()).collect();
        write!(
            f,
            "no engine is called `{}`; refill knows {}",
            self.name,
            known.join(", ")
        )
    }
}

impl core::error::Error for UnknownEngine {}

impl FromStr for EngineKind {
    type Err = UnknownEngine;

    /// The engine of that name, in any case (`wasmer`, `WASMER`).
    fn from_str(name: &str) -> Result<Self, UnknownEngine> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownEngine {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for &kind in EngineKind::ALL {
            assert_eq!(kind.name().parse::<EngineKind>().unwrap(), kind);
            assert!(!kind.version().is_empty() && !kind.summary().is_empty());
        }
        assert_eq!("WASMI".parse::<EngineKind>().unwrap(), EngineKind::Wasmi);
        let e = "v8".parse::<EngineKind>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "no engine is called `v8`; refill knows wasmi, wasmtime, wasmer"
        );
    }

    #[test]
    fn the_default_engine_is_compiled() {
        assert!(EngineKind::default_kind().is_compiled());
        assert!(EngineKind::compiled().count() >= 1);
    }

    /// The README's engine table is the engine table: one row per engine,
    /// with the version refill builds against.
    #[test]
    fn the_readme_lists_every_engine_with_its_version() {
        let readme = include_str!("../../README.md");
        for &kind in EngineKind::ALL {
            let row = readme
                .lines()
                .find(|line| line.starts_with(&format!("| {} |", kind.name())))
                .unwrap_or_else(|| panic!("README.md has no engine row for {kind}"));
            assert!(row.contains(kind.version()), "{kind}: {row}");
        }
    }
}
