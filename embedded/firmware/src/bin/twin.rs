//! The refill twin of `bare`: the same skip guest streams the same state in
//! flash at the same sizes, through refill (`refill::wasmi::WasmiEngine`,
//! `BytesSource::from_static`, `call_with_streams`), with every check and
//! limit refill has.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::{String, ToString};

use cortex_m_rt::entry;
use refill::wasmi::WasmiEngine;
use refill::{BytesSource, Engine, Instance, InstanceConfig, InstanceExt, IntoBoxedSource, Module};
use support::transfer::{self, PAYLOAD_LEN, Streamed};

mod wasm {
    #![allow(dead_code)]
    include!(concat!(env!("OUT_DIR"), "/wasm.rs"));
}

/// Streams `payload` into a fresh instance of the skip guest in chunks of
/// `chunk` bytes.
fn skip(payload: &'static [u8], chunk: u32) -> Result<Streamed, String> {
    let run = || -> refill::Result<Streamed> {
        let module = WasmiEngine::new().compile(wasm::SKIP)?;
        let mut instance = module.instantiate(&InstanceConfig::new().with_chunk_size(chunk))?;
        let source = BytesSource::from_static(payload).boxed();
        let returned = instance.call_with_streams("skip", [source])?;
        Ok(Streamed {
            returned: returned as u64,
            fills: instance.stats().fills,
        })
    };
    run().map_err(|e| e.to_string())
}

#[entry]
fn main() -> ! {
    let board = support::init();
    support::println!("refill twin, {}", support::TARGET);
    let ok = transfer::measure("refill", &board, skip);
    support::print_figures(&board, wasm::SKIP.len(), PAYLOAD_LEN);
    support::exit(ok)
}
