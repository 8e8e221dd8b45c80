//! The heap: embedded-alloc's linked-list first-fit allocator over a static
//! region of [`HEAP_SIZE`] bytes, wrapped to count the bytes in use and
//! their peaks (requested sizes, as the program sees them; the allocator's
//! own bookkeeping and fragmentation are not counted).

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use embedded_alloc::LlffHeap;

/// Bytes of RAM given to the heap; the stack has what is left.
pub const HEAP_SIZE: usize = 3 << 20;

/// A global allocator that counts what it hands out.
struct CountingHeap {
    inner: LlffHeap,
    in_use: AtomicUsize,
    peak: AtomicUsize,
    peak_since_mark: AtomicUsize,
}

impl CountingHeap {
    const fn new() -> Self {
        Self {
            inner: LlffHeap::empty(),
            in_use: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            peak_since_mark: AtomicUsize::new(0),
        }
    }
}

// SAFETY: every request is forwarded unchanged to embedded-alloc's
// allocator, which upholds `GlobalAlloc`'s contract; the counters only look
// at the sizes. `realloc` keeps the default (allocate, copy, free), so it
// is counted as what it is.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
        let ptr = unsafe { self.inner.alloc(layout) };
        if !ptr.is_null() {
            let now = self.in_use.fetch_add(layout.size(), Relaxed) + layout.size();
            self.peak.fetch_max(now, Relaxed);
            self.peak_since_mark.fetch_max(now, Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator with `layout`, as
        // the caller of `GlobalAlloc::dealloc` guarantees.
        unsafe { self.inner.dealloc(ptr, layout) };
        self.in_use.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static HEAP: CountingHeap = CountingHeap::new();

/// Gives the allocator its memory; called once by [`crate::init`].
pub(crate) fn init() {
    static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
    // SAFETY: called once, before anything allocates; `MEMORY` is a static
    // region used by nothing else, and only its address is taken.
    #[allow(unsafe_code)]
    unsafe {
        HEAP.inner.init(&raw mut MEMORY as usize, HEAP_SIZE)
    }
}

/// Bytes in use now.
pub fn in_use() -> usize {
    HEAP.in_use.load(Relaxed)
}

/// The most bytes in use at once since the program started.
pub fn peak() -> usize {
    HEAP.peak.load(Relaxed)
}

/// The most bytes in use at once since the last call (or the start), and
/// starts a new period from what is in use now.
pub fn take_peak() -> usize {
    HEAP.peak_since_mark.swap(in_use(), Relaxed)
}
