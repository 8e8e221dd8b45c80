#![doc = include_str!("../README.md")]
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

extern crate alloc;

mod text;

pub use text::{
    BUFFER_OVERLAP, BUFFER_TOO_SMALL, CURSOR_OUT_OF_BOUNDS, DATA_AREA_OUT_OF_BOUNDS,
    DESCRIPTOR_OUT_OF_BOUNDS, HOSTILE_CHUNK, HOSTILE_ENTRY, LIMITS, TINY_PAGES, TINY_PAGES_BUFFER,
    TINY_PAGES_CASE, TINY_PAGES_MEMORY, TRAPPING_INITIATE, TextGuest, UNKNOWN_BUFFER,
    WRONG_INSTANCE_ID, text_guests,
};

#[cfg(feature = "run")]
mod hostile;
#[cfg(feature = "run")]
mod limits;
#[cfg(feature = "run")]
mod outcome;
#[cfg(feature = "run")]
mod streaming;

#[cfg(feature = "run")]
pub use outcome::{Outcome, Summary};
#[cfg(feature = "run")]
pub use run::{Guests, WasmGuest, run_all};
#[cfg(feature = "run")]
pub use streaming::FLASH_STATE;

#[cfg(feature = "run")]
use run::{engine, instantiate};

#[cfg(feature = "run")]
mod run {
    use alloc::format;

    use refill::wasmi::{WasmiEngine, WasmiInstance};
    use refill::{Engine, EngineConfig, Error, ErrorKind, InstanceConfig, Module, Result};

    use crate::outcome::{Outcome, Runner, Summary};

    /// A compiled guest, found by name.
    #[derive(Clone, Copy, Debug)]
    pub struct WasmGuest<'a> {
        /// The name of the [`crate::TextGuest`] it was compiled from.
        pub name: &'a str,
        /// The module's bytes.
        pub wasm: &'a [u8],
    }

    /// The guests the cases run: the Rust guests built for
    /// `wasm32-unknown-unknown` (`refill_fixtures::{DIGEST, INTERLEAVE,
    /// SKIP}` on a host, the same files in a firmware's flash) and every
    /// [`crate::text_guests`] compiled.
    #[derive(Clone, Copy, Debug)]
    pub struct Guests<'a> {
        /// The digest guest: `digest(arg)`, the `Digest64` of its argument.
        pub digest: &'a [u8],
        /// The interleave guest: `interleave3(a, b, c)`, three streams read
        /// round-robin.
        pub interleave: &'a [u8],
        /// The skip guest: `skip(arg)`, the argument's length, bytes untouched.
        pub skip: &'a [u8],
        /// The guests written as text, compiled.
        pub text: &'a [WasmGuest<'a>],
    }

    impl<'a> Guests<'a> {
        /// The compiled text guest `name`.
        pub fn text(&self, name: &str) -> Result<&'a [u8]> {
            self.text
                .iter()
                .find(|guest| guest.name == name)
                .map(|guest| guest.wasm)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidModule,
                        format!("no compiled guest named `{name}` was given"),
                    )
                })
        }
    }

    /// A wasmi engine built for `config`.
    pub(crate) fn engine(config: &EngineConfig) -> Result<WasmiEngine> {
        WasmiEngine::with_config(config)
    }

    /// A fresh instance of `wasm` set up by `config`, on an engine built for
    /// `engine`, linked against refill's own import.
    pub(crate) fn instantiate(
        wasm: &[u8],
        config: &InstanceConfig,
        engine_config: &EngineConfig,
    ) -> Result<WasmiInstance> {
        engine(engine_config)?.compile(wasm)?.instantiate(config)
    }

    /// Runs every case, one after the other, on wasmi through the `refill`
    /// facade, and calls `report` with each outcome as soon as it is known.
    /// Each case builds its own engine, module and instance and drops them
    /// before the next one starts, so what a case allocates is its own.
    pub fn run_all(guests: &Guests<'_>, report: &mut dyn FnMut(&Outcome)) -> Summary {
        let mut runner = Runner::new(report);
        crate::streaming::run(guests, &mut runner);
        crate::hostile::run(guests, &mut runner);
        crate::limits::run(guests, &mut runner);
        runner.summary
    }
}
