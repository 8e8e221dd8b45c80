//! Flash figures, from the section boundaries cortex-m-rt's `link.x`
//! defines: the vector table and `.text`, `.rodata`, and the initial values
//! of `.data` (kept in flash, copied to RAM at reset).

use core::fmt;

// Section boundaries defined by cortex-m-rt's `link.x`: only their
// addresses are taken, never their contents read.
#[allow(unsafe_code)]
unsafe extern "C" {
    static __vector_table: u32;
    static __etext: u32;
    static __srodata: u32;
    static __erodata: u32;
    static __sdata: u32;
    static __edata: u32;
}

/// Bytes of flash a firmware occupies, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flash {
    /// The vector table and `.text`: machine code.
    pub text: usize,
    /// `.rodata`, wasm modules and payloads included.
    pub rodata: usize,
    /// The initial values of `.data`.
    pub data: usize,
    /// Embedded wasm modules (in `.rodata`), counted apart from code.
    pub wasm: usize,
    /// Embedded payloads (states in flash, in `.rodata`), counted apart
    /// from code.
    pub payloads: usize,
}

impl Flash {
    /// This firmware's figures; `wasm` and `payloads` bytes of `.rodata`
    /// are embedded wasm modules and payloads.
    pub fn read(wasm: usize, payloads: usize) -> Self {
        let addr = |symbol: *const u32| symbol as usize;
        Self {
            text: addr(&raw const __etext) - addr(&raw const __vector_table),
            rodata: addr(&raw const __erodata) - addr(&raw const __srodata),
            data: addr(&raw const __edata) - addr(&raw const __sdata),
            wasm,
            payloads,
        }
    }

    /// Flash taken by the program itself: everything but the wasm modules
    /// and the payloads.
    pub fn code(&self) -> usize {
        self.text + self.rodata + self.data - self.wasm - self.payloads
    }
}

impl fmt::Display for Flash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} B of code (.text {} B, .rodata {} B, .data {} B), {} B of wasm modules, \
             {} B of payloads",
            self.code(),
            self.text,
            self.rodata - self.wasm - self.payloads,
            self.data,
            self.wasm,
            self.payloads
        )
    }
}
