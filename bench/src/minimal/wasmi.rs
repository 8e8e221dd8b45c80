//! The minimal binding for wasmi: a `Linker` closure over the store's
//! memory slice.

use std::time::Instant;

use bytes::Bytes;
use wasmi::{Caller, Engine, Linker, Memory, Module, Store};

use super::{Feed, MinimalRun};

struct State {
    feed: Feed,
    memory: Option<Memory>,
}

/// A guest compiled once, its one-argument export run by [`Binding::digest`]
/// on a fresh store each time.
pub struct Binding {
    export: &'static str,
    engine: Engine,
    module: Module,
}

impl Binding {
    /// Compiles the guest `wasm`, whose `export` will be called.
    pub fn new(wasm: &[u8], export: &'static str) -> Result<Self, String> {
        let engine = Engine::default();
        let module = Module::new(&engine, wasm).map_err(|e| e.to_string())?;
        Ok(Self {
            export,
            engine,
            module,
        })
    }

    /// Streams `payload` into a fresh instance in chunks of `chunk`.
    pub fn digest(&self, payload: Bytes, chunk: u32) -> Result<MinimalRun, String> {
        let (engine, module) = (&self.engine, &self.module);
        let mut linker = Linker::new(engine);
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
            feed: Feed::new(payload, chunk),
            memory: None,
        };
        let mut store = Store::new(engine, state);
        let instance = linker
            .instantiate_and_start(&mut store, module)
            .map_err(|e| e.to_string())?;
        let memory = instance.get_memory(&store, "memory").ok_or("no memory")?;
        store.data_mut().memory = Some(memory);
        let initiate = instance
            .get_typed_func::<u32, i64>(&store, "__frnt__initiate_buffer")
            .map_err(|e| e.to_string())?;
        let entry = instance
            .get_typed_func::<i64, i64>(&store, self.export)
            .map_err(|e| e.to_string())?;

        let started = Instant::now();
        let capacity = store.data().feed.capacity();
        let desc = initiate
            .call(&mut store, capacity)
            .map_err(|e| e.to_string())?;
        let (bytes, state) = memory.data_and_store_mut(&mut store);
        state.feed.prime(bytes, desc as usize);
        let result = entry.call(&mut store, desc).map_err(|e| e.to_string())?;
        Ok(MinimalRun {
            result,
            fills: store.data().feed.fills,
            elapsed: started.elapsed(),
        })
    }
}
