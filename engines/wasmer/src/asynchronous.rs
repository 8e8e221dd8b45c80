//! Async calls under wasmer (feature `async`): the fallback.
//!
//! wasmer 7.4's `experimental-async` suspends a guest in an async host
//! function, with singlepass too, but its call futures are `!Send` (its
//! `StoreAsync` holds an `Rc`), and a [`WasmerInstance`] keeps its store on
//! a worker thread. So the call runs there, as a sync call does, and a
//! stream that lacks bytes blocks that worker thread (never the
//! executor's) on a relay, while the awaiting task reads the next chunk or
//! writes the last drain. Each call that waits at once holds a worker: an
//! engine with as many workers as such calls (`WasmerEngine::with_workers`)
//! lets them all wait in parallel.

use refill_core::Result;
use refill_core::asynchronous::{
    AsyncInstance, AsyncStream, BoxFuture, call_relayed, relay, serve_relayed,
};

use crate::pool::WasmerInstance;

impl AsyncInstance for WasmerInstance {
    fn call_with_streams_async<'a>(
        &'a mut self,
        export: &'a str,
        streams: Vec<AsyncStream>,
    ) -> BoxFuture<'a, Result<i64>> {
        let (waits, server) = relay();
        let export = export.to_owned();
        let call = self.run_async(move |local| call_relayed(local, &export, streams, &waits));
        Box::pin(serve_relayed(server, call))
    }
}
