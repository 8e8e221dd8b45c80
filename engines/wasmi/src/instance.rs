//! An instance of a guest under wasmi: the [`Bindings`] refill-core builds
//! every [`refill_core::Instance`] operation on.

use alloc::boxed::Box;
use alloc::vec::Vec;

use refill_core::instance::check_entry_signature;
use refill_core::memory::checked_slice_range;
use refill_core::{Bindings, Error, GuestMemory, HostData, Result};
use wasmi::{Func, Memory, Store, Val, ValType};

use crate::state::{StoreData, call};

/// One instance: its store (host data, memory, limits) and the exports
/// refill calls.
#[derive(Debug)]
pub struct WasmiInstance {
    /// Boxed: wasmi's store is large (~1.7 KB) and instances move around.
    store: Box<Store<StoreData>>,
    instance: wasmi::Instance,
    memory: Memory,
    /// `__frnt__initiate_buffer`, its type `(i32) -> i64` checked.
    initiate_buffer: Func,
}

impl WasmiInstance {
    pub(crate) fn new(
        store: Store<StoreData>,
        instance: wasmi::Instance,
        memory: Memory,
        initiate_buffer: Func,
    ) -> Self {
        Self {
            store: Box::new(store),
            instance,
            memory,
            initiate_buffer,
        }
    }
}

impl WasmiInstance {
    /// The export `export`, its type checked for `args` `i64` arguments.
    pub(crate) fn entry(&self, export: &str, args: usize) -> Result<Func> {
        let func = self
            .instance
            .get_func(&*self.store, export)
            .ok_or_else(|| Error::missing_export(export))?;
        let ty = func.ty(&*self.store);
        let is_i64 = |t: &ValType| *t == ValType::I64;
        check_entry_signature(
            export,
            args,
            ty.params().iter().map(is_i64),
            ty.results().iter().map(is_i64),
            &ty,
        )?;
        Ok(func)
    }

    /// An entry point's result.
    pub(crate) fn result(export: &str, output: [Val; 1]) -> Result<i64> {
        match output {
            [Val::I64(value)] => Ok(value),
            ref other => Err(Error::signature_mismatch(export, "-> i64", other)),
        }
    }

    /// The instance's store.
    #[cfg(feature = "async")]
    pub(crate) fn store_mut(&mut self) -> &mut Store<StoreData> {
        &mut self.store
    }
}

impl Bindings for WasmiInstance {
    fn initiate_buffer(&mut self, capacity: u32) -> Result<i64> {
        let mut output = [Val::I64(0)];
        let input = [Val::I32(capacity as i32)];
        call(&mut self.store, &self.initiate_buffer, &input, &mut output)?;
        match output {
            [Val::I64(descriptor)] => Ok(descriptor),
            ref other => Err(Error::signature_mismatch(
                refill_core::abi::INITIATE_BUFFER,
                "(i32) -> i64",
                other,
            )),
        }
    }

    fn invoke(&mut self, export: &str, args: &[i64]) -> Result<i64> {
        let func = self.entry(export, args.len())?;
        let inputs: Vec<Val> = args.iter().map(|&a| Val::I64(a)).collect();
        let mut output = [Val::I64(0)];
        call(&mut self.store, &func, &inputs, &mut output)?;
        Self::result(export, output)
    }

    fn with_memory<R>(&mut self, f: impl FnOnce(&mut dyn GuestMemory, &mut HostData) -> R) -> R {
        let (mut bytes, data) = self.memory.data_and_store_mut(&mut *self.store);
        f(&mut bytes, &mut data.host)
    }

    fn memory_size(&self) -> u64 {
        self.memory.data_size(&*self.store) as u64
    }

    fn read_guest(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        let bytes = self.memory.data(&*self.store);
        let range = checked_slice_range(addr, dst.len(), bytes.len())?;
        dst.copy_from_slice(&bytes[range]);
        Ok(())
    }

    fn host_data(&self) -> &HostData {
        &self.store.data().host
    }

    fn host_data_mut(&mut self) -> &mut HostData {
        &mut self.store.data_mut().host
    }
}
