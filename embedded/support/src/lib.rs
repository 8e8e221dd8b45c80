//! What refill's firmwares share, so that nothing is written twice:
//! semihosting output and exit ([`println!`], [`exit`], the panic and fault
//! handlers), the counting heap ([`heap`]), the stack's high-water mark
//! ([`stack`]), flash figures from linker symbols ([`flash`]), instruction
//! counting under QEMU ([`clock`]) and the streaming job the bare baseline
//! and its refill twin are measured with ([`transfer`]).
//!
//! Built for `thumbv7em-none-eabihf` (Cortex-M4F) with cortex-m-rt. Targets
//! without atomic compare-and-swap (`thumbv6m-none-eabi`) cannot run wasmi
//! at all: wasmparser and wasmi_core need `alloc::sync`.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

pub mod clock;
pub mod flash;
pub mod heap;
pub mod stack;
pub mod transfer;

use core::panic::PanicInfo;

use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::debug;

/// Prints a line on the host through semihosting (QEMU's standard output).
pub use cortex_m_semihosting::hprintln as println;

pub use clock::Clock;

/// The target the firmware was built for, for its first line of output.
pub const TARGET: &str = "thumbv7em-none-eabihf (Cortex-M4F, QEMU mps2-an386)";

/// What [`init`] set up.
#[derive(Debug)]
pub struct Board {
    /// The instruction counter.
    pub clock: Clock,
}

/// Sets up the heap and the instruction counter; call once, first thing.
pub fn init() -> Board {
    heap::init();
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        println!("support::init called twice");
        exit(false)
    };
    Board {
        clock: Clock::start(peripherals.SYST),
    }
}

/// Prints the figures every firmware reports: the heap's peak over the
/// run, the stack's high-water mark, flash (with `wasm` bytes of embedded
/// modules and `payloads` bytes of embedded states counted apart from code)
/// and instructions.
pub fn print_figures(board: &Board, wasm: usize, payloads: usize) {
    println!("peak heap: {} B over the run", heap::peak());
    println!(
        "stack: {} B high-water mark of {} B",
        stack::high_water_mark(),
        stack::size()
    );
    println!("flash: {}", flash::Flash::read(wasm, payloads));
    println!(
        "instructions: {} over the run ({})",
        board.clock.instructions(),
        board.clock
    );
}

/// Ends the program: QEMU exits with status 0 if `success`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a debugger or emulator to stop us.
    loop {
        cortex_m::asm::bkpt();
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    println!("panic: {info}");
    exit(false)
}

// cortex-m-rt's own handlers loop forever, which would hang QEMU: report
// and exit instead. cortex-m-rt requires both to be declared `unsafe fn`
// (they run in exception context); neither does anything unsafe.
#[allow(unsafe_code)]
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    println!("hard fault: {frame:?}");
    exit(false)
}

#[allow(unsafe_code)]
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    println!("unexpected exception or interrupt {irqn}");
    exit(false)
}
