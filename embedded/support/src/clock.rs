//! Counting instructions under QEMU.
//!
//! With `-icount shift=0` QEMU advances its virtual clock by exactly one
//! nanosecond per executed instruction, and every timer runs on that clock.
//! SysTick, counting down on the core clock, therefore ticks once every
//! fixed number of instructions (40 on mps2-an386, whose core clock is
//! 25 MHz). The counter is 24 bits wide: it is reloaded at its maximum and
//! every wrap is counted by the SysTick exception. [`Clock::start`]
//! calibrates ticks against a loop of known length (`cortex_m::asm::delay`,
//! two instructions per iteration), so the figures are instructions, not an
//! assumption about the board's clock. Without `-icount` the same code
//! measures host time and the figures mean nothing.

use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering::Relaxed};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;

/// SysTick's reload value: the largest its 24 bits hold.
const RELOAD: u32 = 0x00FF_FFFF;

/// Iterations of the calibration loop.
const CALIBRATION_LOOPS: u32 = 4_000_000;

/// Wraps of the SysTick counter so far.
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Relaxed);
}

/// SysTick ticks since it was started.
fn ticks() -> u64 {
    loop {
        let wraps = WRAPS.load(Relaxed);
        let current = SYST::get_current();
        // 0 is where the counter stands for one tick before it reloads,
        // and where it waits after being started until its first tick; the
        // wrap exception may or may not have been taken: read again.
        if current == 0 {
            continue;
        }
        // A wrap whose exception has not been taken yet (say, inside a
        // critical section) is pending: count it if the counter has
        // already been reloaded.
        let pending = SCB::is_pendst_pending() && current > RELOAD / 2;
        if WRAPS.load(Relaxed) == wraps {
            let wraps = u64::from(wraps) + u64::from(pending);
            return wraps * (u64::from(RELOAD) + 1) + u64::from(RELOAD - current);
        }
    }
}

/// An instruction counter: SysTick ticks, calibrated.
#[derive(Debug)]
pub struct Clock {
    /// Instructions of the calibration loop ...
    calibration_instructions: u64,
    /// ... and the ticks it took.
    calibration_ticks: u64,
}

impl Clock {
    /// Starts SysTick on the core clock, wrapping at 2^24 ticks with an
    /// exception per wrap, and calibrates it.
    pub(crate) fn start(mut syst: SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        let before = ticks();
        cortex_m::asm::delay(CALIBRATION_LOOPS);
        let after = ticks();
        Self {
            // `delay(n)` runs `n + 1` iterations of `subs; bne`.
            calibration_instructions: 2 * (u64::from(CALIBRATION_LOOPS) + 1),
            calibration_ticks: (after - before).max(1),
        }
    }

    /// Instructions executed since the clock was started.
    pub fn instructions(&self) -> u64 {
        let ticks = u128::from(ticks());
        let instructions =
            ticks * u128::from(self.calibration_instructions) / u128::from(self.calibration_ticks);
        instructions as u64
    }
}

impl fmt::Display for Clock {
    /// The calibration: instructions per SysTick tick, to 3 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let milli = self.calibration_instructions * 1000 / self.calibration_ticks;
        write!(
            f,
            "SysTick calibrated at {}.{:03} instructions per tick",
            milli / 1000,
            milli % 1000
        )
    }
}
