//! Async calls (feature `async`): input streams read from a
//! [`tokio::io::AsyncRead`], output streams written to a
//! [`tokio::io::AsyncWrite`], and calls that await them without blocking
//! the executor's thread while the guest waits for its next chunk.
//!
//! tokio's traits, not `futures`': freenet nodes and most hosts that serve
//! state from the network or an object store run on tokio, whose sockets,
//! files and body readers implement them; a `futures` reader adapts with
//! `tokio_util::compat`. refill needs only the traits (and tokio's channels
//! for the wasmer fallback), not a runtime: the calls run on any executor
//! that polls them, though readers of tokio's own (sockets, timers) need
//! tokio's runtime to make progress.
//!
//! How a call awaits: each async stream has a [`Stage`] of one chunk. The
//! refill state machine takes staged bytes through a synchronous source
//! (and stages drained bytes through a synchronous sink), unchanged; before
//! the refill or drain import runs, the engine awaits the stream's
//! [`Wait`] ([`HostData::wait_before`]). Where the guest is while that
//! wait runs is the engine's to say ([`AsyncBindings`]):
//!
//! | engine | how the guest waits |
//! |---|---|
//! | wasmtime | the import is a wasmtime async host function; the call is `call_async` on a fiber |
//! | wasmi | the import returns a resumable host error; the call resumes with the import's result |
//! | wasmer 7.4 | fallback: the call runs on its worker thread, which blocks on a [`WaitRelay`] while the awaiting task runs the wait |
//!
//! A module is linked for async calls by linking it against host
//! functions with [`HostFunctions::enable_async`]; the sync path of a
//! module linked without it is untouched. [`AsyncInstance`] is the call.

mod relay;
mod stage;

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite};

pub use relay::{RelayServer, WaitRelay, relay};
pub use stage::{Stage, Wait};

use crate::abi::{DRAIN_BUFFER, FILL_BUFFER, IMPORT_MODULE, OUTPUT_MODULE};
use crate::error::{Error, ErrorKind, Result};
#[cfg(doc)]
use crate::host::HostData;
#[cfg(doc)]
use crate::host::HostFunctions;
use crate::instance::{Bindings, CallGuard, Instance, check_callable};
use crate::sink::BoxedSink;
use crate::stream::{BoxedSource, StreamOptions};

/// A boxed `Send` future, as the object-safe async traits return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An input read from an async reader, with its declared length.
pub struct AsyncSource {
    reader: stage::BoxedReader,
    total_len: u64,
}

impl fmt::Debug for AsyncSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSource")
            .field("total_len", &self.total_len)
            .finish()
    }
}

impl AsyncSource {
    /// `total_len` bytes from `reader`: it must yield exactly that many and
    /// then end ([`ErrorKind::SourceTruncated`],
    /// [`ErrorKind::SourceOverlong`]); the last refill waits for its end.
    /// A reader that goes on (a connection that carries more) is wrapped
    /// in `tokio::io::AsyncReadExt::take`.
    pub fn new(reader: impl AsyncRead + Send + 'static, total_len: u64) -> Self {
        Self {
            reader: Box::pin(reader),
            total_len,
        }
    }

    /// The declared length in bytes.
    pub fn total_len(&self) -> u64 {
        self.total_len
    }
}

/// An output written to an async writer, flushed and shut down when the
/// call has returned.
pub struct AsyncSink {
    writer: stage::BoxedWriter,
}

impl fmt::Debug for AsyncSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSink").finish_non_exhaustive()
    }
}

impl AsyncSink {
    /// The stream's bytes to `writer`.
    pub fn new(writer: impl AsyncWrite + Send + 'static) -> Self {
        Self {
            writer: Box::pin(writer),
        }
    }
}

/// One stream argument of an async call, in the export's argument order.
pub enum AsyncStream {
    /// An input from an async reader.
    Input(AsyncSource),
    /// An output to an async writer.
    Output(AsyncSink),
    /// An input from a synchronous source (bytes in memory, say).
    Source(BoxedSource),
    /// An output to a synchronous sink.
    Sink(BoxedSink),
}

impl fmt::Debug for AsyncStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(source) => f.debug_tuple("Input").field(source).finish(),
            Self::Output(sink) => f.debug_tuple("Output").field(sink).finish(),
            Self::Source(source) => f
                .debug_struct("Source")
                .field("total_len", &source.total_len())
                .finish(),
            Self::Sink(_) => f.debug_struct("Sink").finish_non_exhaustive(),
        }
    }
}

impl From<AsyncSource> for AsyncStream {
    fn from(source: AsyncSource) -> Self {
        Self::Input(source)
    }
}

impl From<AsyncSink> for AsyncStream {
    fn from(sink: AsyncSink) -> Self {
        Self::Output(sink)
    }
}

/// An instance that can be called with async streams.
pub trait AsyncInstance: Instance + Send {
    /// Opens one stream per element of `streams`, in order (inputs and
    /// outputs alike), calls `export` with their descriptor addresses and
    /// awaits it: while the guest waits for an input's next chunk or an
    /// output's last drain to be written, the future is pending and the
    /// executor's thread free. When the export returns, each output is
    /// drained a last time, written, flushed and shut down. A stream that
    /// cannot be opened releases those already open. Dropping the future
    /// before it completes abandons the call. Where the guest is suspended
    /// in the call (wasmtime, wasmi), the instance then refuses every call
    /// ([`ErrorKind::Poisoned`]). Under wasmer's fallback, the call fails
    /// at its next wait on the worker thread, and the instance takes the
    /// next call. A source that stalls stalls the call: the deadline is
    /// checked only while the guest runs, so bound the wait with a timeout
    /// around the future.
    fn call_with_streams_async<'a>(
        &'a mut self,
        export: &'a str,
        streams: Vec<AsyncStream>,
    ) -> BoxFuture<'a, Result<i64>>;
}

/// What an engine binding adds to its [`Bindings`] for async calls: the
/// call of an export that may suspend in the stream imports.
pub trait AsyncBindings: Bindings + Send {
    /// Calls `export` (never a stream import) with `args`, as
    /// [`Bindings::invoke`] does, awaiting each stream's [`Wait`] before
    /// its import runs.
    fn invoke_async<'a>(
        &'a mut self,
        export: &'a str,
        args: &'a [i64],
    ) -> BoxFuture<'a, Result<i64>>;
}

/// Whether `module.name` is one of the two stream imports, the ones that
/// wait in an async call (`(id: i64, buf_ptr: i64) -> i32` both).
pub fn is_stream_import(module: &str, name: &str) -> bool {
    (module == IMPORT_MODULE && name == FILL_BUFFER)
        || (module == OUTPUT_MODULE && name == DRAIN_BUFFER)
}

/// Polls `future` once: its output, or an error if it would wait. For the
/// calls of an async-linked instance outside an async call (opening a
/// stream, a sync call): with no async stream staged they never wait.
pub fn poll_now<F: Future>(future: F) -> Result<F::Output> {
    let future = pin!(future);
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(Error::new(
            ErrorKind::Unsupported,
            "the guest waited for an async stream outside an async call",
        )),
    }
}

/// One stream argument made ready for the synchronous state machine: its
/// source or sink (staged for an async one), and the stage.
enum Prepared {
    Input(BoxedSource, Option<Stage>),
    Output(BoxedSink, Option<Stage>),
}

impl Prepared {
    /// `stream`'s source or sink, staged with chunks of `chunk` bytes; with
    /// a `relay`, the staged halves wait through it (see [`WaitRelay`]).
    fn new(stream: AsyncStream, chunk: u32, relay: Option<&WaitRelay>) -> Self {
        match stream {
            AsyncStream::Input(source) => {
                let (stage, staged) =
                    Stage::input(source.reader, source.total_len, chunk, relay.cloned());
                Self::Input(Box::new(staged), Some(stage))
            }
            AsyncStream::Output(sink) => {
                let (stage, staged) = Stage::output(sink.writer, chunk, relay.cloned());
                Self::Output(Box::new(staged), Some(stage))
            }
            AsyncStream::Source(source) => Self::Input(source, None),
            AsyncStream::Sink(sink) => Self::Output(sink, None),
        }
    }

    /// What an input must have staged before its stream is primed (the
    /// first chunk), if anything.
    fn first_wait(&self) -> Option<Wait> {
        match self {
            Self::Input(_, Some(stage)) => stage.wait(),
            _ => None,
        }
    }

    /// Opens it on `b` and registers its stage with the descriptor (for
    /// [`HostData::wait_before`]); the descriptor address.
    fn open<B: Bindings>(self, b: &mut B) -> Result<i64> {
        let (descriptor, stage) = match self {
            Self::Input(source, stage) => (b.open_stream(source, StreamOptions::new())?, stage),
            Self::Output(sink, stage) => (b.open_output(sink, StreamOptions::new())?, stage),
        };
        if let Some(stage) = stage {
            b.host_data_mut().stage(descriptor, stage);
        }
        Ok(descriptor)
    }
}

/// Opens `streams` on `b` for an async call: each async input's first
/// chunk awaited before its stream is primed. The descriptors, in order;
/// on failure every stream is released.
async fn open_all<B: Bindings + Send>(b: &mut B, streams: Vec<AsyncStream>) -> Result<Vec<i64>> {
    let chunk = b.host_data().streams().chunk_size();
    let mut args = Vec::with_capacity(streams.len());
    for stream in streams {
        let prepared = Prepared::new(stream, chunk, None);
        let opened = match prepared.first_wait() {
            Some(wait) => wait.run().await,
            None => Ok(()),
        }
        .and_then(|()| prepared.open(b));
        match opened {
            Ok(descriptor) => args.push(descriptor),
            Err(e) => {
                b.host_data_mut().release_streams();
                return Err(e);
            }
        }
    }
    Ok(args)
}

/// After the export returned: each async output's staged bytes written,
/// the last drains taken ([`crate::HostStreams::finish_outputs`]), then
/// written, flushed and shut down.
async fn finish_all<B: Bindings + Send>(b: &mut B) -> Result<()> {
    let outputs = b.host_data().output_stages();
    for stage in &outputs {
        if let Some(wait) = stage.wait() {
            wait.run().await?;
        }
    }
    b.with_memory(|memory, data| data.streams_mut().finish_outputs(memory))?;
    for stage in &outputs {
        stage.close().await?;
    }
    Ok(())
}

impl<B: AsyncBindings> AsyncInstance for B {
    fn call_with_streams_async<'a>(
        &'a mut self,
        export: &'a str,
        streams: Vec<AsyncStream>,
    ) -> BoxFuture<'a, Result<i64>> {
        Box::pin(async move {
            self.host_data().check_async()?;
            let args = open_all(self, streams).await?;
            let guard = CallGuard::enter(self)?;
            let result = match check_callable(export) {
                Ok(()) => guard.bindings.invoke_async(export, &args).await,
                Err(e) => Err(e),
            };
            let result = match result {
                Ok(value) => finish_all(guard.bindings).await.map(|()| value),
                Err(e) => Err(e),
            };
            guard.bindings.host_data_mut().release_streams();
            guard.leave();
            result
        })
    }
}

/// A call run by the fallback, on a thread that may block: its result
/// and the stages of its async outputs, for [`serve_relayed`].
#[derive(Debug)]
pub struct RelayedCall {
    result: Result<i64>,
    outputs: Vec<Stage>,
}

/// The fallback's call, run on the thread that keeps the instance (which
/// may block): opens `streams`, each async one staged to wait through
/// `relay`, and calls `export`. A stream that cannot be opened releases
/// those already open.
pub fn call_relayed<B: Bindings>(
    b: &mut B,
    export: &str,
    streams: Vec<AsyncStream>,
    relay: &WaitRelay,
) -> RelayedCall {
    let opened = b.host_data().check_async().and_then(|()| {
        let chunk = b.host_data().streams().chunk_size();
        streams
            .into_iter()
            .map(|stream| Prepared::new(stream, chunk, Some(relay)).open(b))
            .collect::<Result<Vec<i64>>>()
    });
    // Taken before the call releases them with its streams.
    let outputs = b.host_data().output_stages();
    let result = match opened {
        Ok(args) => Instance::call(b, export, &args),
        Err(e) => {
            b.host_data_mut().release_streams();
            Err(e)
        }
    };
    RelayedCall { result, outputs }
}

/// The awaiting side of the fallback: runs the waits that arrive through
/// `server` until `call` (a [`call_relayed`] on the instance's thread)
/// completes; then writes, flushes and shuts down its async outputs.
pub async fn serve_relayed(
    server: RelayServer,
    call: impl Future<Output = Result<RelayedCall>>,
) -> Result<i64> {
    let RelayedCall { result, outputs } = server.serve_until(call).await?;
    let value = result?;
    for stage in &outputs {
        stage.close().await?;
    }
    Ok(value)
}
