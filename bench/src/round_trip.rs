//! A payload in and a transformed copy out (each byte xor 0x5a): streamed
//! out through an output stream (the `xor` guest) against collected in
//! guest memory and handed back whole (`xor_whole`, freenet's
//! `update_state` pattern).

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use refill::{
    AnyEngine, AnyInstance, BytesSource, Engine, EngineKind, Error, ErrorKind, Instance,
    InstanceConfig, IntoBoxedSink, IntoBoxedSource, Limits, Module, ReadAheadSource, Result,
    StreamOptions, StreamSink, StreamSource, WriterSink,
};
use refill_fixtures::{XOR, XOR_KEY, XOR_WHOLE};

use crate::per_call::median;
use crate::rss;
use crate::workload::gib_per_s;

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

/// A file in and a file out through the xor guest, as `refill run
/// builtin:xor --input IN --output OUT` streams them: the input read ahead
/// ([`ReadAheadSource`]), the output written through at each drain
/// ([`WriterSink`] over the file).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FileTrip {
    /// The engine.
    pub engine: EngineKind,
    /// File bytes, in and out.
    pub len: u64,
    /// Throughput in GiB/s (of the input), reading and writing included.
    pub gib_per_s: f64,
    /// Growth of the host's peak RSS over the RSS before (`None` off
    /// Linux).
    pub rss_growth_bytes: Option<u64>,
    /// The guest's linear memory afterwards.
    pub guest_memory: u64,
}

/// Streams the file at `input` (of [`refill_testkit::generated`] bytes of
/// `seed`) through the xor guest on `engine` into a new file at `output`,
/// then checks that file byte for byte (outside the clock) and removes it.
pub fn file_round_trip(
    engine: EngineKind,
    input: &Path,
    seed: u64,
    output: &Path,
    chunk: u32,
) -> Result<FileTrip> {
    let module = AnyEngine::new(engine)?.compile(XOR.wasm)?;
    // A 1 GiB round trip is one call: no deadline (wasmi takes seconds).
    let config = config(chunk);
    let limits = config.limits.clone().with_deadline(None);
    let mut instance = module.instantiate(&config.with_limits(limits))?;
    let source = ReadAheadSource::open(input)?;
    let len = source.total_len();
    let file = std::fs::File::create(output).map_err(|e| io_error(output, e))?;
    let (outcome, growth) = rss::peak_growth(|| {
        let started = Instant::now();
        let input = instance.open_stream(source.boxed(), StreamOptions::new())?;
        let sink = WriterSink::new(file).boxed_sink();
        let output = instance.open_output(sink, StreamOptions::new())?;
        instance.call(XOR.export, &[input, output])?;
        Ok::<_, Error>(started.elapsed())
    });
    let checked = outcome.and_then(|took| check_xored(output, seed, len).map(|()| took));
    let _ = std::fs::remove_file(output);
    Ok(FileTrip {
        engine,
        len,
        gib_per_s: gib_per_s(len, checked?.as_secs_f64()),
        rss_growth_bytes: growth,
        guest_memory: instance.memory_size(),
    })
}

/// Checks that the file at `path` holds the `len` generated bytes of
/// `seed`, each xored with [`XOR_KEY`].
fn check_xored(path: &Path, seed: u64, len: u64) -> Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    let (mut got, mut want) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let n = file.read(&mut got).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        refill_testkit::fill_generated(seed, at, &mut want[..n]);
        if got[..n]
            .iter()
            .zip(&want[..n])
            .any(|(g, w)| *g != w ^ XOR_KEY)
        {
            return Err(Error::new(
                ErrorKind::SinkFailed,
                format!(
                    "the output file differs within bytes {at}..{}",
                    at + n as u64
                ),
            ));
        }
        at += n as u64;
    }
    if at != len {
        return Err(Error::new(
            ErrorKind::SinkFailed,
            format!("the output file holds {at} bytes, not {len}"),
        ));
    }
    Ok(())
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::SinkFailed, format!("{}: {e}", path.display())).with_source(e)
}
