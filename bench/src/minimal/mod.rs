//! Minimal hand-written bindings of the refill ABI, one per engine: what an
//! embedder would write for one engine and one trusted guest, with none of
//! refill's abstraction, limits or checks beyond slice indexing. refill's
//! streaming is measured against them (the target: at least 0.95 times
//! their throughput).
//!
//! Each compiles a guest once (a `Binding`: the digest guest, or the skip
//! guest to isolate the transfer), then runs it on a fresh instance over a
//! payload in host memory and returns a [`MinimalRun`]; only priming, the
//! call and its refills are timed.

pub mod wasmer;
pub mod wasmi;
pub mod wasmtime;

use std::time::Duration;

use bytes::Bytes;

/// A minimal binding of one engine with the digest guest compiled.
pub enum AnyBinding {
    /// wasmi.
    Wasmi(wasmi::Binding),
    /// wasmtime.
    Wasmtime(wasmtime::Binding),
    /// wasmer.
    Wasmer(wasmer::Binding),
}

impl AnyBinding {
    /// Streams `payload` into a fresh instance in chunks of `chunk` and
    /// calls the export.
    pub fn digest(&self, payload: Bytes, chunk: u32) -> Result<MinimalRun, String> {
        match self {
            Self::Wasmi(b) => b.digest(payload, chunk),
            Self::Wasmtime(b) => b.digest(payload, chunk),
            Self::Wasmer(b) => b.digest(payload, chunk),
        }
    }
}

/// What a minimal binding measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinimalRun {
    /// The guest's result (the digest).
    pub result: i64,
    /// Refills served.
    pub fills: u64,
    /// Time from priming to the guest's return.
    pub elapsed: Duration,
}

/// Guest bytes as the minimal bindings touch them.
pub(crate) trait Bytes32 {
    fn read_at(&self, addr: usize, dst: &mut [u8]);
    fn write_at(&mut self, addr: usize, src: &[u8]);
}

impl Bytes32 for [u8] {
    fn read_at(&self, addr: usize, dst: &mut [u8]) {
        dst.copy_from_slice(&self[addr..addr + dst.len()]);
    }
    fn write_at(&mut self, addr: usize, src: &[u8]) {
        self[addr..addr + src.len()].copy_from_slice(src);
    }
}

/// The host side of one stream, written plainly: the payload, how far it
/// has gone, the chunk size and the refills served.
#[derive(Debug, Default)]
pub(crate) struct Feed {
    payload: Bytes,
    sent: usize,
    chunk: usize,
    pub(crate) fills: u64,
}

/// The descriptor fields the host needs: `(start, capacity, last_read,
/// last_write)`.
fn descriptor(memory: &(impl Bytes32 + ?Sized), desc: usize) -> (usize, usize, usize, usize) {
    let mut d = [0u8; 32];
    memory.read_at(desc, &mut d);
    let word = |at: usize| u64::from_le_bytes(d[at..at + 8].try_into().unwrap_or_default());
    let capacity = u32::from_le_bytes(d[8..12].try_into().unwrap_or_default());
    (
        word(0) as usize,
        capacity as usize,
        word(16) as usize,
        word(24) as usize,
    )
}

impl Feed {
    pub(crate) fn new(payload: Bytes, chunk: u32) -> Self {
        Self {
            payload,
            sent: 0,
            chunk: chunk as usize,
            fills: 0,
        }
    }

    /// The capacity to ask `__frnt__initiate_buffer` for.
    pub(crate) fn capacity(&self) -> u32 {
        (self.payload.len() + 4).min(self.chunk) as u32
    }

    /// Writes the header and the first chunk into the buffer at `desc`.
    pub(crate) fn prime(&mut self, memory: &mut (impl Bytes32 + ?Sized), desc: usize) {
        let (start, capacity, last_read, last_write) = descriptor(memory, desc);
        let first = (capacity.min(self.chunk) - 4).min(self.payload.len());
        memory.write_at(start, &(self.payload.len() as u32).to_le_bytes());
        memory.write_at(start + 4, &self.payload[..first]);
        memory.write_at(last_read, &0u32.to_le_bytes());
        memory.write_at(last_write, &(4 + first as u32).to_le_bytes());
        self.sent = first;
    }

    /// Serves one refill of the buffer at `desc`.
    pub(crate) fn fill(&mut self, memory: &mut (impl Bytes32 + ?Sized), desc: usize) -> u32 {
        self.fills += 1;
        let (start, capacity, last_read, last_write) = descriptor(memory, desc);
        let n = capacity.min(self.chunk).min(self.payload.len() - self.sent);
        memory.write_at(start, &self.payload[self.sent..self.sent + n]);
        memory.write_at(last_read, &0u32.to_le_bytes());
        memory.write_at(last_write, &(n as u32).to_le_bytes());
        self.sent += n;
        n as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_binding_gives_the_digest_with_the_expected_fills() {
        let payload = Bytes::from(refill_testkit::generated(2, 300_001));
        let expected = refill_testkit::digest(&payload) as i64;
        let wasm = refill_fixtures::DIGEST.wasm;
        for chunk in [4096u32, 65_536] {
            let fills = refill_testkit::expected_fills(payload.len() as u64, chunk);
            let runs = [
                (
                    "wasmi",
                    wasmi::Binding::new(wasm, "digest")
                        .and_then(|b| b.digest(payload.clone(), chunk)),
                ),
                (
                    "wasmtime",
                    wasmtime::Binding::new(wasm, "digest")
                        .and_then(|b| b.digest(payload.clone(), chunk)),
                ),
                (
                    "wasmer",
                    wasmer::Binding::new(wasm, "digest")
                        .and_then(|b| b.digest(payload.clone(), chunk)),
                ),
            ];
            for (name, run) in runs {
                let run = run.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(run.result, expected, "{name} {chunk}");
                assert_eq!(run.fills, fills, "{name} {chunk}");
            }
        }
    }
}
