//! A payload in and a transformed copy out (each byte xor 0x5a): streamed
//! out through an output stream (the `xor` guest) against collected in
//! guest memory and handed back whole (`xor_whole`, freenet's
//! `update_state` pattern).

use std::time::{Duration, Instant};

use bytes::Bytes;
use refill::{
    AnyEngine, AnyInstance, BytesSource, Engine, EngineKind, Error, ErrorKind, Instance,
    InstanceConfig, IntoBoxedSink, IntoBoxedSource, Limits, Module, Result, StreamOptions,
    StreamSink,
};
use refill_fixtures::{XOR, XOR_KEY, XOR_WHOLE};

use crate::per_call::median;

/// One engine's round trip of one payload: medians of rounds in which both
/// ways ran once, back to back.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundTrip {
    /// The engine.
    pub engine: EngineKind,
    /// Payload bytes, in and out.
    pub len: u64,
    /// Streamed out: opening both streams, the call and every drain.
    pub streamed: Duration,
    /// Collected whole: the call, then the record and the output read back.
    pub whole: Duration,
    /// Guest memory after the streamed call.
    pub streamed_memory: u64,
    /// Guest memory after the whole call.
    pub whole_memory: u64,
}

impl RoundTrip {
    /// How many times faster streaming out was.
    pub fn speed_up(&self) -> f64 {
        self.whole.as_secs_f64() / self.streamed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// A sink that compares each drain with the expected output and keeps
/// nothing, so that host memory stays O(chunk).
struct Expecting {
    expected: Bytes,
    at: usize,
}

impl StreamSink for Expecting {
    fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.at + bytes.len();
        if self.expected.get(self.at..end) != Some(bytes) {
            return Err(Error::new(
                ErrorKind::SinkFailed,
                format!("output differs in bytes {}..{end}", self.at),
            ));
        }
        self.at = end;
        Ok(())
    }
}

fn config(chunk: u32) -> InstanceConfig {
    // Room for the collected copy: the whole way needs guest memory for
    // the payload and its copy.
    InstanceConfig::new()
        .with_chunk_size(chunk)
        .with_limits(Limits::default().with_max_memory_bytes(4 << 30))
}

/// The round trip of `payload` on `engine` in chunks of `chunk`, medians
/// of `rounds`; every output is checked against the host's xor.
pub fn round_trip(
    engine: EngineKind,
    payload: &Bytes,
    chunk: u32,
    rounds: usize,
) -> Result<RoundTrip> {
    let module = AnyEngine::new(engine)?.compile(XOR.wasm)?;
    let expected = Bytes::from(payload.iter().map(|b| b ^ XOR_KEY).collect::<Vec<u8>>());
    let len = payload.len() as u64;
    // A fresh instance, the clock started, the payload opened as its input.
    let start = || -> Result<(AnyInstance, Instant, i64)> {
        let mut instance = module.instantiate(&config(chunk))?;
        let started = Instant::now();
        let input = instance.open_stream(
            BytesSource::new(payload.clone()).boxed(),
            StreamOptions::new(),
        )?;
        Ok((instance, started, input))
    };
    let streamed_once = || -> Result<(Duration, u64)> {
        let (mut instance, started, input) = start()?;
        let sink = Expecting {
            expected: expected.clone(),
            at: 0,
        };
        let output = instance.open_output(sink.boxed_sink(), StreamOptions::new())?;
        let written = instance.call(XOR.export, &[input, output])?;
        let took = started.elapsed();
        if written != len as i64 || instance.stats().bytes_drained != len {
            return Err(Error::new(
                ErrorKind::Engine,
                format!("{engine} xor streamed {written} of {len} bytes"),
            ));
        }
        Ok((took, instance.memory_size()))
    };
    let whole_once = || -> Result<(Duration, u64)> {
        let (mut instance, started, input) = start()?;
        let record = instance.call(XOR_WHOLE.export, &[input])?;
        let record = instance.read_memory(record, 16)?;
        let field = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&record[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let output = instance.read_memory(field(0) as i64, field(8))?;
        let took = started.elapsed();
        if output != expected {
            return Err(Error::new(
                ErrorKind::Engine,
                format!("{engine} xor_whole returned a different output"),
            ));
        }
        Ok((took, instance.memory_size()))
    };
    let (mut streamed, mut whole) = (Vec::new(), Vec::new());
    let (mut streamed_memory, mut whole_memory) = (0, 0);
    for _ in 0..rounds.max(1) {
        let (took, memory) = streamed_once()?;
        streamed.push(took);
        streamed_memory = memory;
        let (took, memory) = whole_once()?;
        whole.push(took);
        whole_memory = memory;
    }
    Ok(RoundTrip {
        engine,
        len,
        streamed: median(streamed),
        whole: median(whole),
        streamed_memory,
        whole_memory,
    })
}
