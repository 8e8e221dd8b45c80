//! The minimal binding for wasmer (singlepass): a typed host function over
//! the memory view. Without `unsafe`, wasmer lends guest memory through
//! `MemoryView::read`/`write`, which is what this binding uses.

use std::time::Instant;

use bytes::Bytes;
use wasmer::sys::Singlepass;
use wasmer::{
    Function, FunctionEnv, FunctionEnvMut, Instance, Memory, MemoryView, Module, Store, imports,
};

use super::{Bytes32, Feed, MinimalRun};

struct State {
    feed: Feed,
    memory: Option<Memory>,
}

/// A memory view as the minimal binding touches it (an out-of-bounds access
/// panics, as slice indexing does in the other bindings).
struct View<'a>(MemoryView<'a>);

impl Bytes32 for View<'_> {
    fn read_at(&self, addr: usize, dst: &mut [u8]) {
        self.0
            .read(addr as u64, dst)
            .unwrap_or_else(|e| panic!("guest read at {addr}: {e}"));
    }
    fn write_at(&mut self, addr: usize, src: &[u8]) {
        self.0
            .write(addr as u64, src)
            .unwrap_or_else(|e| panic!("guest write at {addr}: {e}"));
    }
}

fn fill(mut env: FunctionEnvMut<'_, State>, _id: i64, buf: i64) -> u32 {
    let (state, store) = env.data_and_store_mut();
    let Some(memory) = state.memory.as_ref() else {
        return 0;
    };
    let mut view = View(memory.view(&store));
    state.feed.fill(&mut view, buf as usize)
}

/// A guest compiled once, its one-argument export run by [`Binding::digest`]
/// on a fresh store each time.
pub struct Binding {
    export: &'static str,
    engine: wasmer::Engine,
    module: Module,
}

impl Binding {
    /// Compiles the guest `wasm` with singlepass; its `export` will be
    /// called.
    pub fn new(wasm: &[u8], export: &'static str) -> Result<Self, String> {
        let engine: wasmer::Engine = Singlepass::new().into();
        let module = Module::from_binary(&engine, wasm).map_err(|e| e.to_string())?;
        Ok(Self {
            export,
            engine,
            module,
        })
    }

    /// Streams `payload` into a fresh instance in chunks of `chunk`.
    pub fn digest(&self, payload: Bytes, chunk: u32) -> Result<MinimalRun, String> {
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(
            &mut store,
            State {
                feed: Feed::new(payload, chunk),
                memory: None,
            },
        );
        let imports = imports! {
            "freenet_contract_io" => {
                "__frnt__fill_buffer" => Function::new_typed_with_env(&mut store, &env, fill),
            }
        };
        let instance =
            Instance::new(&mut store, &self.module, &imports).map_err(|e| e.to_string())?;
        let memory = instance
            .exports
            .get_memory("memory")
            .map_err(|e| e.to_string())?
            .clone();
        env.as_mut(&mut store).memory = Some(memory.clone());
        let initiate = instance
            .exports
            .get_typed_function::<u32, i64>(&store, "__frnt__initiate_buffer")
            .map_err(|e| e.to_string())?;
        let entry = instance
            .exports
            .get_typed_function::<i64, i64>(&store, self.export)
            .map_err(|e| e.to_string())?;

        let started = Instant::now();
        let capacity = env.as_ref(&store).feed.capacity();
        let desc = initiate
            .call(&mut store, capacity)
            .map_err(|e| e.to_string())?;
        let mut feed = std::mem::take(&mut env.as_mut(&mut store).feed);
        feed.prime(&mut View(memory.view(&store)), desc as usize);
        env.as_mut(&mut store).feed = feed;
        let result = entry.call(&mut store, desc).map_err(|e| e.to_string())?;
        Ok(MinimalRun {
            result,
            fills: env.as_ref(&store).feed.fills,
            elapsed: started.elapsed(),
        })
    }
}
