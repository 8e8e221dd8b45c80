//! The guest's buffers: one allocation holding the descriptor, the two cursor
//! cells and the data area.
//!
//! ```text
//! descriptor (32) | last_read (4) | last_write (4) | data (capacity)
//! ```

use core::alloc::Layout;

use crate::abi::{CURSOR_LEN, DESCRIPTOR_LEN};
use crate::descriptor::BufferDescriptor;

const CELLS_AT: usize = DESCRIPTOR_LEN as usize;
const DATA_AT: usize = CELLS_AT + 2 * CURSOR_LEN as usize;

/// The layout of a buffer of `capacity` data bytes, if it exists: on wasm32
/// `40 + capacity` overflows `usize` for capacities near `u32::MAX`, and a
/// size past `isize::MAX` is no layout. Checked, never wrapped.
fn layout(capacity: u32) -> Option<Layout> {
    let size = DATA_AT.checked_add(usize::try_from(capacity).ok()?)?;
    Layout::from_size_align(size, 8).ok()
}

/// The layout of a buffer of `capacity` data bytes, or a trap (a panic,
/// which aborts a guest) when it cannot exist: never an allocation smaller
/// than what the descriptor will declare.
fn layout_or_trap(capacity: u32) -> Layout {
    match layout(capacity) {
        Some(layout) => layout,
        None => panic!("a buffer of {capacity} bytes does not fit in the address space"),
    }
}

/// Allocates a buffer of `capacity` data bytes and returns the address of its
/// descriptor, as `__frnt__initiate_buffer` does. The data area and the cells
/// are zeroed. Release it with [`free_buffer`] (a [`StreamReader`] does).
///
/// [`StreamReader`]: super::StreamReader
pub fn allocate_buffer(capacity: u32) -> i64 {
    let layout = layout_or_trap(capacity);
    // SAFETY: the layout has a non-zero size (at least the 40-byte header).
    let block = unsafe { alloc::alloc::alloc_zeroed(layout) };
    if block.is_null() {
        alloc::alloc::handle_alloc_error(layout);
    }
    let base = block as usize as i64;
    let descriptor = BufferDescriptor {
        start: base + DATA_AT as i64,
        capacity,
        last_read: base + CELLS_AT as i64,
        last_write: base + (CELLS_AT + CURSOR_LEN as usize) as i64,
    };
    let bytes = descriptor.encode();
    // SAFETY: `block` is a fresh allocation of at least DATA_AT bytes; the
    // descriptor's 32 bytes go at its start.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), block, bytes.len()) };
    base
}

/// Frees a buffer made by [`allocate_buffer`].
///
/// # Safety
///
/// `descriptor` must come from [`allocate_buffer`] and not have been freed,
/// and nothing may use the buffer afterwards.
pub unsafe fn free_buffer(descriptor: i64) {
    // SAFETY: the caller guarantees the descriptor is a live allocation of
    // ours, so its 32 bytes are readable.
    let capacity = unsafe { read_descriptor(descriptor) }.capacity;
    // SAFETY: same block and layout as in `allocate_buffer`.
    unsafe { alloc::alloc::dealloc(descriptor as usize as *mut u8, layout_or_trap(capacity)) };
}

/// The payload the host placed whole in the buffer at `descriptor` with the
/// one-shot protocol (`StreamOptions::whole()`: no header, `last_write`
/// bytes from `start`), or `None` if `last_write` exceeds the capacity.
///
/// # Safety
///
/// `descriptor` must come from [`allocate_buffer`] and not have been freed;
/// the slice must not be used after the buffer is freed or written again.
pub unsafe fn one_shot_bytes<'a>(descriptor: i64) -> Option<&'a [u8]> {
    // SAFETY: the caller guarantees a live descriptor of ours.
    let d = unsafe { read_descriptor(descriptor) };
    // SAFETY: the write cursor cell is 4 bytes inside the same allocation.
    let len = unsafe { read_cell(d.last_write as usize as *const u8) };
    if len > d.capacity {
        return None;
    }
    // SAFETY: `len <= capacity`, so the bytes lie inside the data area of
    // the live allocation; the caller keeps it alive and unwritten.
    Some(unsafe { core::slice::from_raw_parts(d.start as usize as *const u8, len as usize) })
}

/// Reads a little-endian `u32` cursor cell.
///
/// # Safety
///
/// `cell` must point to 4 readable bytes.
pub(super) unsafe fn read_cell(cell: *const u8) -> u32 {
    let mut bytes = [0u8; CURSOR_LEN as usize];
    // SAFETY: the caller guarantees 4 readable bytes.
    unsafe { core::ptr::copy_nonoverlapping(cell, bytes.as_mut_ptr(), bytes.len()) };
    u32::from_le_bytes(bytes)
}

/// Reads the descriptor at `descriptor`.
///
/// # Safety
///
/// `descriptor` must point to 32 readable bytes.
pub(super) unsafe fn read_descriptor(descriptor: i64) -> BufferDescriptor {
    let mut bytes = [0u8; DESCRIPTOR_LEN as usize];
    // SAFETY: the caller guarantees 32 readable bytes at `descriptor`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            descriptor as usize as *const u8,
            bytes.as_mut_ptr(),
            bytes.len(),
        );
    }
    BufferDescriptor::decode(&bytes)
}
