//! refill's device cases (`refill_device::run_all`) on a Cortex-M4 under
//! QEMU: one line per case, the figures, and `N passed, M failed` last;
//! QEMU's exit status is 0 only if every case passed.
//!
//! Built for `thumbv7em-none-eabihf` (Cortex-M4F; `.cargo/config.toml`).
//! Targets without atomic compare-and-swap cannot work:
//! `thumbv6m-none-eabi` and `riscv32imc-unknown-none-elf` lack
//! `alloc::sync`, which wasmparser and wasmi_core need (and `bytes` lacks
//! its atomic read-modify-write there too).

#![no_std]
#![no_main]

use cortex_m_rt::entry;
use refill_device::{FLASH_STATE, Guests, Outcome, TINY_PAGES_CASE, run_all};
use support::{heap, println};

mod wasm {
    include!(concat!(env!("OUT_DIR"), "/wasm.rs"));
}
mod text {
    include!(concat!(env!("OUT_DIR"), "/text_guests.rs"));
}

#[entry]
fn main() -> ! {
    let board = support::init();
    println!("refill device cases on wasmi, {}", support::TARGET);
    let guests = Guests {
        digest: wasm::DIGEST,
        interleave: wasm::INTERLEAVE,
        skip: wasm::SKIP,
        text: text::TEXT_GUESTS,
    };
    let mut tiny_pages_heap = None;
    heap::take_peak();
    let mut since = board.clock.instructions();
    let summary = run_all(&guests, &mut |outcome: &Outcome| {
        let heap = heap::take_peak();
        let instructions = board.clock.instructions() - since;
        if outcome.name == TINY_PAGES_CASE {
            tiny_pages_heap = Some(heap);
        }
        println!("{outcome} | heap {heap} B, {instructions} instructions");
        since = board.clock.instructions();
    });

    let wasm = [guests.digest, guests.interleave, guests.skip]
        .into_iter()
        .chain(guests.text.iter().map(|guest| guest.wasm))
        .map(<[u8]>::len)
        .sum();
    support::print_figures(&board, wasm, FLASH_STATE.len());
    match tiny_pages_heap {
        Some(heap) => println!(
            "peak heap of {TINY_PAGES_CASE}: {heap} B with engine, module and instance (target <= 16384 B)"
        ),
        None => println!("peak heap of {TINY_PAGES_CASE}: the case did not run"),
    }
    println!("{summary}");
    support::exit(summary.all_passed() && tiny_pages_heap.is_some())
}
