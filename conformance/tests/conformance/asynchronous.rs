//! Async calls (`AsyncInstance::call_with_streams_async`): inputs from a
//! tokio `AsyncRead`, outputs to an `AsyncWrite`, on every engine (wasmtime
//! async host functions, wasmi resumable calls, wasmer's fallback), byte
//! for byte as the sync path; failures of the reader or the writer come
//! back typed; and the executor's thread stays free while a guest waits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use refill::{
    AnyInstance, AsyncInstance, AsyncSink, AsyncSource, AsyncStream, EngineKind, ErrorKind,
    HostFunctions, Instance, InstanceConfig, InstanceExt, LinkedModule, Result, VecSink,
};
use refill_conformance::{generated, link};
use refill_fixtures::{DIGEST, XOR, XOR_KEY};
use refill_testkit::async_io::{CollectWriter, Failing, PacedReader};
use rstest::rstest;
use rstest_reuse::apply;
use tokio::io::{AsyncRead, AsyncWrite};

use super::engines;

const CHUNK: u32 = 1024;

/// An instance of `wasm` on `engine`, linked for async calls (or not).
fn instance(engine: EngineKind, wasm: &[u8], is_async: bool) -> AnyInstance {
    let mut host = HostFunctions::new();
    if is_async {
        host.enable_async();
    }
    link(engine, wasm, &host)
        .and_then(|linked| linked.instantiate(&InstanceConfig::new().with_chunk_size(CHUNK)))
        .unwrap_or_else(|e| panic!("{engine}: {e}"))
}

/// A current-thread runtime: one thread, so a call that blocked it would
/// stop every other task.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

fn xored(len: u64) -> Vec<u8> {
    refill_testkit::generated(11, len as usize)
        .into_iter()
        .map(|b| b ^ XOR_KEY)
        .collect()
}

/// The xor guest's arguments: an async input of `len` declared bytes and
/// an async output.
fn xor_streams(
    reader: impl AsyncRead + Send + 'static,
    len: u64,
    writer: impl AsyncWrite + Send + 'static,
) -> Vec<AsyncStream> {
    vec![
        AsyncSource::new(reader, len).into(),
        AsyncSink::new(writer).into(),
    ]
}

/// The xor guest over an async input and an async output.
fn xor_async(
    instance: &mut AnyInstance,
    reader: impl AsyncRead + Send + 'static,
    len: u64,
    writer: CollectWriter,
) -> Result<i64> {
    let streams = xor_streams(reader, len, writer);
    runtime().block_on(instance.call_with_streams_async(XOR.export, streams))
}

/// Every length across chunk boundaries, read in pieces that never line
/// up with the chunks, comes back out byte for byte, the writer shut down;
/// the instance then takes the next call.
#[apply(engines)]
fn async_streams_round_trip_byte_for_byte(engine: EngineKind) {
    let mut instance = instance(engine, XOR.wasm, true);
    for len in [0, 1, 1023, 1024, 1025, 10 * 1024 + 7, 1 << 20] {
        let writer = CollectWriter::new();
        let reader = PacedReader::new(11, len, 700);
        let result = xor_async(&mut instance, reader, len, writer.clone())
            .unwrap_or_else(|e| panic!("{engine} {len}: {e}"));
        assert_eq!(result, len as i64, "{engine} {len}");
        assert!(
            writer.bytes() == xored(len),
            "{engine} {len}: output differs"
        );
        assert!(writer.is_shut_down(), "{engine} {len}");
    }
    let stats = instance.stats();
    assert_eq!(stats.outputs, 7, "{engine}");
    assert_eq!(stats.bytes_drained, stats.bytes_streamed, "{engine}");
}

/// The guest waits for chunks that arrive over time (1 ms apart, in 300-byte
/// pieces): the call is pending while it waits, and its result and output
/// are those of the sync path.
#[apply(engines)]
fn a_guest_waits_for_chunks_that_arrive_later(engine: EngineKind) {
    let len = 8 * 1024 + 5;
    let mut instance = instance(engine, XOR.wasm, true);
    let reader = PacedReader::new(11, len, 300).with_delay(Duration::from_millis(1));
    let pending = reader.pending_count();
    let writer = CollectWriter::new();
    let result = xor_async(&mut instance, reader, len, writer.clone())
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
    assert_eq!(result, len as i64);
    assert!(writer.bytes() == xored(len), "{engine}: output differs");
    assert!(
        *pending.lock().unwrap() > 0,
        "{engine}: the reader never waited"
    );
}

/// On a one-thread runtime, the chunks come from another task through a
/// channel: that task runs only if the call leaves the thread free while
/// the guest waits. (A call that blocked it would never finish.)
#[apply(engines)]
fn the_executor_thread_stays_free_while_the_guest_waits(engine: EngineKind) {
    let len: u64 = 6 * 1024 + 3;
    let bytes = refill_testkit::generated(11, len as usize);
    let (mut feed, reader) = tokio::io::duplex(512);
    let writer = CollectWriter::new();
    let mut instance = instance(engine, XOR.wasm, true);
    let streams = xor_streams(reader, len, writer.clone());
    let fed = Arc::new(Mutex::new(0usize));
    let pieces = Arc::clone(&fed);
    let result = runtime().block_on(async {
        // It owns the pipe's writing end, and closes it when done: the
        // source must end where it said.
        let feeder = async move {
            use tokio::io::AsyncWriteExt;
            for piece in bytes.chunks(400) {
                feed.write_all(piece)
                    .await
                    .expect("the pipe takes the bytes");
                *pieces.lock().unwrap() += 1;
                tokio::task::yield_now().await;
            }
        };
        let call = instance.call_with_streams_async(XOR.export, streams);
        tokio::join!(call, feeder).0
    });
    assert_eq!(
        result.unwrap_or_else(|e| panic!("{engine}: {e}")),
        len as i64
    );
    assert!(writer.bytes() == xored(len), "{engine}: output differs");
    assert_eq!(*fed.lock().unwrap(), (len as usize).div_ceil(400));
}

/// An async input digests to the same value as the same bytes through the
/// sync path, beside a sync input and a sync output in one call.
#[apply(engines)]
fn async_and_sync_streams_mix_in_one_call(engine: EngineKind) {
    let len = 100_000;
    let mut instance = instance(engine, DIGEST.wasm, true);
    let by_async = runtime()
        .block_on(instance.call_with_streams_async(
            DIGEST.export,
            vec![AsyncSource::new(PacedReader::new(11, len, 4096), len).into()],
        ))
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
    // The same instance, linked for async calls, takes sync calls too.
    let by_sync = instance
        .call_with_streams(DIGEST.export, [generated(11, len)])
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
    assert_eq!(by_async, by_sync, "{engine}");

    let mut xor = self::instance(engine, XOR.wasm, true);
    let sink = VecSink::new();
    let streams = vec![
        AsyncStream::Source(generated(11, 3000)),
        AsyncStream::Sink(Box::new(sink.clone())),
    ];
    let result = runtime()
        .block_on(xor.call_with_streams_async(XOR.export, streams))
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
    assert_eq!(result, 3000);
    assert!(sink.take() == xored(3000), "{engine}: output differs");
}

/// A reader that ends early, one with more than it declared, one that
/// fails and a writer that fails: each call fails with the kind that names
/// it, and the instance takes the next call.
#[apply(engines)]
fn reader_and_writer_failures_come_back_typed(engine: EngineKind) {
    let mut instance = instance(engine, XOR.wasm, true);
    let len = 5000;
    let paced = |declared: u64| PacedReader::new(11, declared, 700);
    let cases: [(Vec<AsyncStream>, ErrorKind); 4] = [
        (
            xor_streams(paced(len - 10), len, CollectWriter::new()),
            ErrorKind::SourceTruncated,
        ),
        (
            xor_streams(paced(len + 10), len, CollectWriter::new()),
            ErrorKind::SourceOverlong,
        ),
        (
            xor_streams(
                Failing(std::io::ErrorKind::ConnectionReset),
                len,
                CollectWriter::new(),
            ),
            ErrorKind::SourceFailed,
        ),
        (
            xor_streams(paced(len), len, Failing(std::io::ErrorKind::BrokenPipe)),
            ErrorKind::SinkFailed,
        ),
    ];
    for (streams, kind) in cases {
        let e = runtime()
            .block_on(instance.call_with_streams_async(XOR.export, streams))
            .expect_err("the call fails");
        assert_eq!(e.kind(), kind, "{engine}: {e}");
    }

    let writer = CollectWriter::new();
    let result = xor_async(
        &mut instance,
        PacedReader::new(11, len, 700),
        len,
        writer.clone(),
    );
    assert_eq!(
        result.unwrap_or_else(|e| panic!("{engine}: {e}")),
        len as i64
    );
    assert!(writer.bytes() == xored(len), "{engine}: output differs");
}

/// A module linked without `HostFunctions::enable_async` refuses async
/// calls with a typed error, and takes sync calls as before.
#[apply(engines)]
fn a_module_linked_without_async_refuses_async_calls(engine: EngineKind) {
    let mut instance = instance(engine, DIGEST.wasm, false);
    let len = 10_000;
    let e = runtime()
        .block_on(instance.call_with_streams_async(
            DIGEST.export,
            vec![AsyncSource::new(PacedReader::new(11, len, 4096), len).into()],
        ))
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Unsupported, "{engine}: {e}");
    assert!(e.message().contains("enable_async"), "{e}");
    instance
        .call_with_streams(DIGEST.export, [generated(11, len)])
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
}

/// Guest memory does not grow with async streams either: 1 MiB and 8 MiB
/// round trips leave the same memory.
#[apply(engines)]
fn guest_memory_stays_o_chunk_with_async_streams(engine: EngineKind) {
    let memory = |len: u64| {
        let mut instance = instance(engine, XOR.wasm, true);
        xor_async(
            &mut instance,
            PacedReader::new(11, len, 64 << 10),
            len,
            CollectWriter::new(),
        )
        .unwrap_or_else(|e| panic!("{engine}: {e}"));
        instance.memory_size()
    };
    assert_eq!(memory(1 << 20), memory(8 << 20), "{engine}");
}

/// Dropping a call's future while the guest waits abandons the call. On
/// wasmtime and wasmi the guest is left suspended mid-call, so the
/// instance refuses every later call (`Poisoned`); on wasmer (the
/// fallback) the call on the worker fails at its wait and unwinds, and the
/// instance takes the next call. The table in `docs/async.md` says so.
#[apply(engines)]
fn dropping_a_waiting_call_abandons_it(engine: EngineKind) {
    let len = 4 * 1024;
    let mut instance = instance(engine, XOR.wasm, true);
    runtime().block_on(async {
        // The first chunk comes at 100 ms, the second at 200 ms: the
        // future is dropped at 150 ms, the guest waiting for the second.
        let reader =
            PacedReader::new(11, len, CHUNK as usize).with_delay(Duration::from_millis(100));
        let streams = xor_streams(reader, len, CollectWriter::new());
        let call = instance.call_with_streams_async(XOR.export, streams);
        let timed_out = tokio::time::timeout(Duration::from_millis(150), call).await;
        assert!(
            timed_out.is_err(),
            "{engine}: the call finished before it was dropped"
        );
    });
    let writer = CollectWriter::new();
    let next = xor_async(
        &mut instance,
        PacedReader::new(11, 100, 100),
        100,
        writer.clone(),
    );
    match engine {
        EngineKind::Wasmer => {
            assert_eq!(next.unwrap_or_else(|e| panic!("{engine}: {e}")), 100);
            assert!(writer.bytes() == xored(100), "{engine}: output differs");
        }
        _ => assert_eq!(
            next.expect_err("poisoned").kind(),
            ErrorKind::Poisoned,
            "{engine}"
        ),
    }
}
