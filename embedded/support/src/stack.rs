//! The stack's high-water mark. cortex-m-rt paints the stack region
//! (`_stack_end` up to `_stack_start`, everything in RAM above the statics
//! and the heap) with [`cortex_m_rt::STACK_PAINT_VALUE`] at reset (its
//! `paint-stack` feature); the deepest word no longer painted shows how far
//! the stack has grown.

use cortex_m_rt::STACK_PAINT_VALUE;

#[allow(unsafe_code)]
unsafe extern "C" {
    // From cortex-m-rt's `link.x`: the lowest address of the stack region
    // and its top (the initial stack pointer).
    static _stack_end: u32;
    static _stack_start: u32;
}

/// `(lowest, top)` addresses of the stack region.
fn region() -> (usize, usize) {
    (
        (&raw const _stack_end) as usize,
        (&raw const _stack_start) as usize,
    )
}

/// Bytes of RAM the stack may use.
pub fn size() -> usize {
    let (bottom, top) = region();
    top - bottom
}

/// The most bytes of stack used since reset: from the top of the region
/// down to the deepest word that no longer holds the paint.
pub fn high_water_mark() -> usize {
    let (bottom, top) = region();
    let mut at = bottom;
    while at < top {
        // SAFETY: `at` is a word-aligned address inside the stack region the
        // linker script reserves in RAM (both ends are 4-aligned); reading
        // it has no side effects. Volatile, because the compiler cannot know
        // the reset code painted it.
        #[allow(unsafe_code)]
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != STACK_PAINT_VALUE {
            break;
        }
        at += 4;
    }
    top - at
}
