//! wasmer's linear memory as refill-core's `GuestMemory`.
//!
//! wasmer does not lend its memory as a plain `&mut [u8]` (safely): it gives
//! a `MemoryView` with checked copies, and a `WasmSlice` whose access guard
//! derefs to a `&mut [u8]` after one bounds check. [`ViewMemory`] adapts the
//! view to refill-core's trait; every range is checked here first, so an
//! out-of-range access is refill-core's `ResultOutOfBounds` error, and wasmer's
//! own check behind it is a second line of defence.

use refill_core::memory::out_of_bounds;
use refill_core::{GuestMemory, Result};
use wasmer::{MemoryAccessError, MemoryView, WasmSlice};

/// A view of one instance's linear memory as refill-core's `GuestMemory`.
#[derive(Debug)]
pub(crate) struct ViewMemory<'a> {
    view: MemoryView<'a>,
}

impl<'a> ViewMemory<'a> {
    pub(crate) fn new(view: MemoryView<'a>) -> Self {
        Self { view }
    }

    /// Checks `[addr, addr + len)` against the live size.
    fn check(&self, addr: u32, len: usize) -> Result<()> {
        let size = self.size();
        let end = u64::try_from(len)
            .ok()
            .and_then(|len| u64::from(addr).checked_add(len));
        match end {
            Some(end) if end <= size => Ok(()),
            _ => Err(out_of_bounds(addr, len, size)),
        }
    }

    /// wasmer's refusal of an access, as refill-core's error.
    fn refused(&self, addr: u32, len: usize, error: MemoryAccessError) -> refill_core::Error {
        out_of_bounds(addr, len, self.size()).with_source(error)
    }
}

impl GuestMemory for ViewMemory<'_> {
    fn size(&self) -> u64 {
        self.view.data_size()
    }

    fn read(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        self.check(addr, dst.len())?;
        self.view
            .read(u64::from(addr), dst)
            .map_err(|e| self.refused(addr, dst.len(), e))
    }

    fn write(&mut self, addr: u32, src: &[u8]) -> Result<()> {
        self.check(addr, src.len())?;
        self.view
            .write(u64::from(addr), src)
            .map_err(|e| self.refused(addr, src.len(), e))
    }

    fn write_with(
        &mut self,
        addr: u32,
        len: u32,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        self.check(addr, len as usize)?;
        // For wasmer's native backend the guard borrows guest memory in place
        // (an owned copy, written back on drop, only exists for the browser).
        let mut guest = WasmSlice::<u8>::new(&self.view, u64::from(addr), u64::from(len))
            .and_then(WasmSlice::access)
            .map_err(|e| self.refused(addr, len as usize, e))?;
        fill(guest.as_mut())
    }
}

#[cfg(test)]
mod tests {
    use refill_core::ErrorKind;
    use wasmer::{Memory, MemoryType, Store};

    use super::*;

    #[test]
    fn every_access_is_checked_against_the_live_size() {
        let mut store = Store::new(wasmer::sys::Singlepass::default());
        let memory = Memory::new(&mut store, MemoryType::new(1, None, false)).unwrap();
        let mut guest = ViewMemory::new(memory.view(&store));
        let size = 65_536;
        assert_eq!(guest.size(), size);

        guest.write_u32(size as u32 - 4, 0xDEAD_BEEF).unwrap();
        assert_eq!(guest.read_u32(size as u32 - 4).unwrap(), 0xDEAD_BEEF);
        let mut filled = 0;
        let written = guest.write_with(8, 4, &mut |dst| {
            dst.copy_from_slice(b"abcd");
            filled = dst.len();
            Ok(())
        });
        assert!(written.is_ok());
        assert_eq!(filled, 4);
        let mut back = [0; 4];
        guest.read(8, &mut back).unwrap();
        assert_eq!(&back, b"abcd");
        let mut at_end = usize::MAX;
        let written = guest.write_with(size as u32, 0, &mut |dst| {
            at_end = dst.len();
            Ok(())
        });
        assert!(written.is_ok());
        assert_eq!(at_end, 0);

        let kind = |r: Result<()>| r.unwrap_err().kind();
        assert_eq!(
            kind(guest.write_u32(size as u32 - 3, 1)),
            ErrorKind::ResultOutOfBounds
        );
        assert_eq!(
            kind(guest.read(u32::MAX, &mut [0; 2])),
            ErrorKind::ResultOutOfBounds
        );
        assert_eq!(
            kind(guest.write(u32::MAX, &[0])),
            ErrorKind::ResultOutOfBounds
        );
        let mut called = false;
        let past_end = guest.write_with(size as u32 - 2, 4, &mut |_| {
            called = true;
            Ok(())
        });
        assert_eq!(kind(past_end), ErrorKind::ResultOutOfBounds);
        assert!(!called, "the closure never sees an out-of-range slice");
        assert_eq!(
            kind(guest.write_with(u32::MAX, u32::MAX, &mut |_| Ok(()))),
            ErrorKind::ResultOutOfBounds
        );
    }
}
