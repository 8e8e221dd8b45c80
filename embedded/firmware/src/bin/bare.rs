//! The bare baseline: the skip guest streams a state in flash through
//! `freenet_contract_io.__frnt__fill_buffer` bound straight on wasmi, with
//! no refill code at all (in the spirit of the main workspace's
//! `bench/src/minimal/wasmi.rs`): no checks beyond slice indexing, no
//! limits, one trusted guest. `twin` does the same job through refill.

#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::{String, ToString};

use cortex_m_rt::entry;
use support::transfer::{self, PAYLOAD_LEN, Streamed};
use wasmi::{Caller, Engine, Linker, Memory, Module, Store};

mod wasm {
    #![allow(dead_code)]
    include!(concat!(env!("OUT_DIR"), "/wasm.rs"));
}

/// The host side of one stream, written plainly.
struct Feed {
    payload: &'static [u8],
    sent: usize,
    chunk: usize,
    fills: u64,
}

/// The descriptor fields the host needs: `(start, capacity, last_read,
/// last_write)`.
fn descriptor(memory: &[u8], at: usize) -> (usize, usize, usize, usize) {
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&memory[at..at + 8]);
        u64::from_le_bytes(bytes) as usize
    };
    let mut capacity = [0u8; 4];
    capacity.copy_from_slice(&memory[at + 8..at + 12]);
    let capacity = u32::from_le_bytes(capacity) as usize;
    (word(at), capacity, word(at + 16), word(at + 24))
}

fn put_u32(memory: &mut [u8], at: usize, value: u32) {
    memory[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

impl Feed {
    /// Writes the header and the first chunk into the buffer at `desc`.
    fn prime(&mut self, memory: &mut [u8], desc: usize) {
        let (start, capacity, last_read, last_write) = descriptor(memory, desc);
        let first = (capacity.min(self.chunk) - 4).min(self.payload.len());
        put_u32(memory, start, self.payload.len() as u32);
        memory[start + 4..start + 4 + first].copy_from_slice(&self.payload[..first]);
        put_u32(memory, last_read, 0);
        put_u32(memory, last_write, 4 + first as u32);
        self.sent = first;
    }

    /// Serves one refill of the buffer at `desc`.
    fn fill(&mut self, memory: &mut [u8], desc: usize) -> u32 {
        self.fills += 1;
        let (start, capacity, last_read, last_write) = descriptor(memory, desc);
        let n = capacity.min(self.chunk).min(self.payload.len() - self.sent);
        memory[start..start + n].copy_from_slice(&self.payload[self.sent..self.sent + n]);
        put_u32(memory, last_read, 0);
        put_u32(memory, last_write, n as u32);
        self.sent += n;
        n as u32
    }
}

struct State {
    feed: Feed,
    memory: Option<Memory>,
}

/// Streams `payload` into a fresh instance of the skip guest in chunks of
/// `chunk` bytes.
fn skip(payload: &'static [u8], chunk: u32) -> Result<Streamed, String> {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm::SKIP).map_err(|e| e.to_string())?;
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap(
            "freenet_contract_io",
            "__frnt__fill_buffer",
            |mut caller: Caller<'_, State>, _id: i64, buf: i64| -> u32 {
                let Some(memory) = caller.data().memory else {
                    return 0;
                };
                let (bytes, state) = memory.data_and_store_mut(&mut caller);
                state.feed.fill(bytes, buf as usize)
            },
        )
        .map_err(|e| e.to_string())?;
    let state = State {
        feed: Feed {
            payload,
            sent: 0,
            chunk: chunk as usize,
            fills: 0,
        },
        memory: None,
    };
    let mut store = Store::new(&engine, state);
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .map_err(|e| e.to_string())?;
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or("the guest exports no memory")?;
    store.data_mut().memory = Some(memory);
    let initiate = instance
        .get_typed_func::<u32, i64>(&store, "__frnt__initiate_buffer")
        .map_err(|e| e.to_string())?;
    let entry = instance
        .get_typed_func::<i64, i64>(&store, "skip")
        .map_err(|e| e.to_string())?;
    let capacity = (payload.len() + 4).min(chunk as usize) as u32;
    let desc = initiate
        .call(&mut store, capacity)
        .map_err(|e| e.to_string())?;
    let (bytes, state) = memory.data_and_store_mut(&mut store);
    state.feed.prime(bytes, desc as usize);
    let returned = entry.call(&mut store, desc).map_err(|e| e.to_string())?;
    Ok(Streamed {
        returned: returned as u64,
        fills: store.data().feed.fills,
    })
}

#[entry]
fn main() -> ! {
    let board = support::init();
    support::println!("bare wasmi baseline, {}", support::TARGET);
    let ok = transfer::measure("bare", &board, skip);
    support::print_figures(&board, wasm::SKIP.len(), PAYLOAD_LEN);
    support::exit(ok)
}
