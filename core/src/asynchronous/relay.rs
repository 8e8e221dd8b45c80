//! Waits handed from a thread that may block to the async task that runs
//! them: the fallback for an engine whose guest cannot be suspended in an
//! import (wasmer 7.4 with singlepass). The guest's call runs on a thread
//! of its own; when a staged stream lacks bytes there, that thread sends
//! the [`Wait`] through the relay and sleeps until the async task, which
//! reads and writes on the executor, has run it.

use alloc::boxed::Box;
use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::Poll;

use tokio::sync::{mpsc, oneshot};

use super::stage::Wait;
use crate::error::{Error, ErrorKind, Result};

/// A wait and where its outcome goes.
type Request = (Wait, oneshot::Sender<Result<()>>);

/// A wait being run, and where its outcome goes.
type Running = (
    Pin<Box<dyn Future<Output = Result<()>> + Send>>,
    oneshot::Sender<Result<()>>,
);

/// The blocking end: [`WaitRelay::wait`] from the thread the guest runs on.
#[derive(Clone, Debug)]
pub struct WaitRelay {
    requests: mpsc::UnboundedSender<Request>,
}

/// The async end: [`RelayServer::serve_until`] on the task awaiting the call.
#[derive(Debug)]
pub struct RelayServer {
    requests: mpsc::UnboundedReceiver<Request>,
}

/// A relay's two ends.
pub fn relay() -> (WaitRelay, RelayServer) {
    let (requests, served) = mpsc::unbounded_channel();
    (WaitRelay { requests }, RelayServer { requests: served })
}

fn gone() -> Error {
    Error::new(
        ErrorKind::Unsupported,
        "the async call awaiting this stream is gone (its future was dropped)",
    )
}

impl WaitRelay {
    /// Has the async end run `wait`, sleeping until it has. Never call it
    /// on an executor's thread: it blocks.
    pub fn wait(&self, wait: Wait) -> Result<()> {
        let (done, outcome) = oneshot::channel();
        self.requests.send((wait, done)).map_err(|_| gone())?;
        outcome.blocking_recv().map_err(|_| gone())?
    }
}

impl RelayServer {
    /// Runs every wait sent through the relay, one at a time, until `done`
    /// (the call on the other thread) completes; returns its output.
    pub async fn serve_until<T>(mut self, done: impl Future<Output = T>) -> T {
        let mut done = pin!(done);
        let mut running: Option<Running> = None;
        poll_fn(|cx| {
            if let Poll::Ready(output) = done.as_mut().poll(cx) {
                return Poll::Ready(output);
            }
            loop {
                if let Some((wait, _)) = &mut running {
                    let Poll::Ready(outcome) = wait.as_mut().poll(cx) else {
                        return Poll::Pending;
                    };
                    if let Some((_, reply)) = running.take() {
                        let _ = oneshot::Sender::send(reply, outcome);
                    }
                }
                match self.requests.poll_recv(cx) {
                    Poll::Ready(Some((wait, reply))) => {
                        running = Some((Box::pin(wait.run()), reply));
                    }
                    Poll::Ready(None) | Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }
}
