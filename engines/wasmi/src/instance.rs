//! An instance of a guest under wasmi: the [`Bindings`] refill-core builds
//! every [`refill_core::Instance`] operation on.

use refill_core::engine::check_entry_signature;
use refill_core::{Bindings, Error, HostStreams, Result};
use wasmi::{Memory, Store, TypedFunc, Val, ValType};

use crate::engine::{HostState, prepare_call};
use crate::error::from_call;
use crate::memory::with_memory;

/// One instance: its store (streams, memory) and the exports refill calls.
#[derive(Debug)]
pub struct WasmiInstance {
    /// Boxed: wasmi's store is large (~1.7 KB) and instances move around.
    store: Box<Store<HostState>>,
    instance: wasmi::Instance,
    memory: Memory,
    initiate_buffer: TypedFunc<u32, i64>,
}

impl WasmiInstance {
    pub(crate) fn new(
        store: Store<HostState>,
        instance: wasmi::Instance,
        memory: Memory,
        initiate_buffer: TypedFunc<u32, i64>,
    ) -> Self {
        Self {
            store: Box::new(store),
            instance,
            memory,
            initiate_buffer,
        }
    }
}

impl Bindings for WasmiInstance {
    type Memory<'a> = [u8];

    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64> {
        prepare_call(&mut self.store)?;
        self.initiate_buffer
            .call(&mut *self.store, capacity)
            .map_err(|e| from_call(e, self.store.data_mut()))
    }

    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let func = self
            .instance
            .get_func(&*self.store, export)
            .ok_or_else(|| Error::missing_export(export))?;
        let ty = func.ty(&*self.store);
        let is_i64 = |t: &ValType| *t == ValType::I64;
        check_entry_signature(
            export,
            args.len(),
            ty.params().iter().map(is_i64),
            ty.results().iter().map(is_i64),
            &ty,
        )?;
        let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
        let mut output = [Val::I64(0)];
        prepare_call(&mut self.store)?;
        func.call(&mut *self.store, &inputs, &mut output)
            .map_err(|e| from_call(e, self.store.data_mut()))?;
        match output {
            [Val::I64(value)] => Ok(value),
            ref other => Err(Error::signature_mismatch(export, "-> i64", other)),
        }
    }

    fn with_memory<R>(&mut self, f: impl FnOnce(&mut [u8], &mut HostStreams) -> R) -> R {
        with_memory(self.memory, &mut *self.store, f)
    }

    fn view_memory<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(self.memory.data(&*self.store))
    }

    fn streams(&self) -> &HostStreams {
        &self.store.data().streams
    }

    fn streams_mut(&mut self) -> &mut HostStreams {
        &mut self.store.data_mut().streams
    }
}
