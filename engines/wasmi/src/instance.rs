//! An instance of a guest under wasmi.

use refill_core::abi::FILL_BUFFER;
use refill_core::memory::read_back;
use refill_core::stream::StreamStats;
use refill_core::{BoxedSource, Error, Instance, Result};
use wasmi::{Memory, Store, TypedFunc, Val, ValType};

use crate::engine::HostState;
use crate::error::from_call;
use crate::memory::with_memory;

/// One instance: its store (streams, memory) and the exports refill calls.
#[derive(Debug)]
pub struct WasmiInstance {
    store: Store<HostState>,
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
            store,
            instance,
            memory,
            initiate_buffer,
        }
    }
}

impl Instance for WasmiInstance {
    fn open_stream(&mut self, source: BoxedSource) -> Result<i64> {
        let capacity = self.store.data().streams.capacity_for(&*source)?;
        let descriptor = self
            .initiate_buffer
            .call(&mut self.store, capacity)
            .map_err(from_call)?;
        with_memory(self.memory, &mut self.store, |bytes, streams| {
            streams.prime(bytes, descriptor, source)
        })?;
        Ok(descriptor)
    }

    fn call(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let result = self.call_export(export, args);
        self.close_streams();
        result
    }

    fn close_streams(&mut self) {
        self.store.data_mut().streams.release_all();
    }

    fn read_memory(&self, addr: i64, len: u64) -> Result<Vec<u8>> {
        read_back(self.memory.data(&self.store), addr, len)
    }

    fn memory_size(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    fn stats(&self) -> StreamStats {
        self.store.data().streams.stats()
    }

    fn instance_id(&self) -> i64 {
        self.store.data().streams.instance_id()
    }
}

impl WasmiInstance {
    fn call_export(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        if export == FILL_BUFFER {
            return Err(Error::missing_export(export));
        }
        let func = self
            .instance
            .get_func(&self.store, export)
            .ok_or_else(|| Error::missing_export(export))?;
        let ty = func.ty(&self.store);
        let all_i64 = |types: &[ValType]| types.iter().all(|t| *t == ValType::I64);
        if ty.params().len() != args.len()
            || !all_i64(ty.params())
            || ty.results() != [ValType::I64]
        {
            let expected = format!("({}) -> i64", vec!["i64"; args.len()].join(", "));
            return Err(Error::signature_mismatch(export, &expected, ty));
        }
        let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
        let mut output = [Val::I64(0)];
        func.call(&mut self.store, &inputs, &mut output)
            .map_err(from_call)?;
        match output[0] {
            Val::I64(value) => Ok(value),
            ref other => Err(Error::signature_mismatch(export, "-> i64", other)),
        }
    }
}
