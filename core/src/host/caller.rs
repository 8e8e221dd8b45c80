//! What a host function sees of the instance that called it: checked access
//! to that instance's guest memory, and that instance's own host data.

use alloc::format;
use alloc::vec::Vec;

use super::data::{HostData, StateSlot};
use crate::abi::MEMORY;
use crate::error::{Error, ErrorKind, Result};
use crate::memory::{GuestMemory, GuestRange};
use crate::stream::HostStreams;

/// The calling instance, inside a host function.
///
/// Every guest address and length goes through [`Caller::range`]: checked
/// against the live memory size with overflow-safe arithmetic, negative
/// values included, before anything is read or written. A range outside the
/// memory is an [`ErrorKind::ArgumentOutOfBounds`] and touches nothing.
/// Nothing here is found through a value the guest chose: the memory and the
/// data are the calling instance's own.
pub struct Caller<'a> {
    memory: Option<&'a mut dyn GuestMemory>,
    data: &'a mut HostData,
}

impl<'a> Caller<'a> {
    /// The caller an engine binding builds for one host call: the instance's
    /// memory (`None` before its `memory` export is known, as in a start
    /// function) and its host data.
    pub fn new(memory: Option<&'a mut dyn GuestMemory>, data: &'a mut HostData) -> Self {
        Self { memory, data }
    }

    /// The id the instance was given through `__frnt_set_id`.
    pub fn instance_id(&self) -> i64 {
        self.data.streams().instance_id()
    }

    /// The live size of the guest's memory in bytes (0 before it is known).
    pub fn memory_size(&self) -> u64 {
        self.memory.as_deref().map_or(0, |m| m.size())
    }

    /// The guest's memory, for reads and writes of its own (each still
    /// checked by the memory against its size).
    pub fn memory(&mut self) -> Result<&mut dyn GuestMemory> {
        match self.memory.as_deref_mut() {
            Some(memory) => Ok(memory),
            None => Err(no_memory()),
        }
    }

    /// The guest range `[addr, addr + len)`, if it lies in guest memory;
    /// [`ErrorKind::ArgumentOutOfBounds`] otherwise (a negative `addr` or
    /// `len` included).
    pub fn range(&self, addr: i64, len: i64) -> Result<GuestRange> {
        let size = self.memory_size();
        u64::try_from(len)
            .ok()
            .and_then(|len| GuestRange::within(addr, len, size))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::ArgumentOutOfBounds,
                    format!(
                        "guest range {addr:#x}+{len} lies outside guest memory of {size} bytes"
                    ),
                )
            })
    }

    /// Copies `dst.len()` bytes of guest memory at `addr` into `dst`.
    pub fn read_into(&mut self, addr: i64, dst: &mut [u8]) -> Result<()> {
        let range = self.range(addr, len_of(dst.len()))?;
        self.memory()?.read(range.start(), dst)
    }

    /// Copies `len` bytes of guest memory at `addr`, refusing a `len` above
    /// `cap` with [`ErrorKind::PayloadTooLarge`] before anything is
    /// allocated: the way to read a guest-chosen length.
    pub fn read_capped(&mut self, addr: i64, len: i64, cap: u32) -> Result<Vec<u8>> {
        let range = self.range(addr, len)?;
        if range.len() > cap {
            return Err(Error::new(
                ErrorKind::PayloadTooLarge,
                format!(
                    "the guest asked the host to read {} bytes, more than its limit of {cap}",
                    range.len()
                ),
            ));
        }
        let mut out = alloc::vec![0; range.len() as usize];
        self.memory()?.read(range.start(), &mut out)?;
        Ok(out)
    }

    /// Copies `src` into guest memory at `addr`; nothing is written unless
    /// all of it fits.
    pub fn write(&mut self, addr: i64, src: &[u8]) -> Result<()> {
        let range = self.range(addr, len_of(src.len()))?;
        self.memory()?.write(range.start(), src)
    }

    /// Lends the guest bytes `[addr, addr + len)` to `fill`, after checking
    /// the range: a host function writing straight into guest memory.
    pub fn write_with(
        &mut self,
        addr: i64,
        len: i64,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let range = self.range(addr, len)?;
        self.memory()?.write_with(range.start(), range.len(), fill)
    }

    /// The instance's own state in `slot` (declared with
    /// [`crate::HostFunctions::state`]).
    pub fn state<T: 'static>(&mut self, slot: StateSlot<T>) -> Result<&mut T> {
        self.data.state_mut(slot)
    }

    /// The instance's host data.
    pub fn data(&mut self) -> &mut HostData {
        self.data
    }

    /// The guest's memory and the instance's streams at once: what the
    /// refill import needs.
    pub fn memory_and_streams(&mut self) -> Result<(&mut dyn GuestMemory, &mut HostStreams)> {
        match self.memory.as_deref_mut() {
            Some(memory) => Ok((memory, self.data.streams_mut())),
            None => Err(no_memory()),
        }
    }
}

fn len_of(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

fn no_memory() -> Error {
    Error::new(
        ErrorKind::MissingExport,
        format!(
            "a host function needs the guest's `{MEMORY}` export, which is not known yet \
             (called from a start function?) or does not exist"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InstanceConfig;
    use crate::host::HostFunctions;
    use crate::memory::VecMemory;

    #[test]
    fn every_guest_range_is_checked_before_it_is_touched() {
        let mut host = HostFunctions::empty();
        let counter = host.state(|| 41u32);
        let mut data = HostData::new(&InstanceConfig::new().with_instance_id(3), &host).unwrap();
        let mut memory = VecMemory::zeroed(64);
        let mut caller = Caller::new(Some(&mut memory), &mut data);
        assert_eq!((caller.instance_id(), caller.memory_size()), (3, 64));

        caller.write(60, b"abcd").unwrap();
        let mut back = [0; 4];
        caller.read_into(60, &mut back).unwrap();
        assert_eq!(&back, b"abcd");
        assert_eq!(caller.read_capped(60, 4, 4).unwrap(), b"abcd");

        let kind = |r: Result<()>| r.unwrap_err().kind();
        for (addr, len) in [
            (61, 4),
            (-1, 1),
            (0, -1),
            (i64::MAX, 1),
            (64, 1),
            (1 << 32, 0),
        ] {
            assert_eq!(
                kind(caller.range(addr, len).map(drop)),
                ErrorKind::ArgumentOutOfBounds,
                "{addr}+{len}"
            );
        }
        assert_eq!(
            kind(caller.write(61, b"abcd")),
            ErrorKind::ArgumentOutOfBounds
        );
        let mut called = false;
        let outside = caller.write_with(62, 4, &mut |_| {
            called = true;
            Ok(())
        });
        assert_eq!(kind(outside), ErrorKind::ArgumentOutOfBounds);
        assert!(!called);
        assert_eq!(
            kind(caller.read_capped(0, 5, 4).map(drop)),
            ErrorKind::PayloadTooLarge
        );
        *caller.state(counter).unwrap() += 1;
        assert_eq!(*caller.state(counter).unwrap(), 42);
        assert_eq!(&memory.0[60..], b"abcd", "only the checked write landed");
    }

    #[test]
    fn a_caller_without_memory_says_so() {
        let mut data = HostData::new(&InstanceConfig::new(), &HostFunctions::empty()).unwrap();
        let mut caller = Caller::new(None, &mut data);
        assert_eq!(caller.memory_size(), 0);
        let e = caller.memory_and_streams().map(drop).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingExport);
        let e = caller.write(0, &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingExport);
    }
}
