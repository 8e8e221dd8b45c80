//! Differential fuzzing across engines: wasm-smith makes a module of the
//! input (refill's exports, several memories and tables, memory and table
//! growth, deep calls, loops ended by its termination counter) and the
//! calls to make; it runs on every compiled engine under the same
//! `refill::Limits`, and every phase (compile, instantiate, each call) must
//! give the same result or error kind and leave the same memory on all of
//! them, but for the documented `KNOWN_DIVERGENCES`. A host panic is always
//! a finding. The harness is `refill_conformance::fuzzed`, shared with the
//! seeded test of the normal suite (`tests/conformance/fuzzed.rs`).
//!
//! `REFILL_FUZZ_PRINT=1` prints every input's case and runs (to replay an
//! artifact); `REFILL_FUZZ_TALLY=N` prints what the cases came to every N
//! cases (default 10 000).
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use refill_conformance::fuzzed::{Case, Engines, Tally, check, report};

static ENGINES: OnceLock<Engines> = OnceLock::new();
static TALLY: Mutex<Option<Tally>> = Mutex::new(None);

fn every() -> u64 {
    static EVERY: OnceLock<u64> = OnceLock::new();
    *EVERY.get_or_init(|| {
        std::env::var("REFILL_FUZZ_TALLY")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_000)
    })
}

fuzz_target!(|data: &[u8]| {
    let engines =
        ENGINES.get_or_init(|| Engines::compiled().expect("every compiled engine builds"));
    if std::env::var_os("REFILL_FUZZ_PRINT").is_some() {
        match Case::generate(data) {
            Some(case) => eprintln!("{}", report(&case, &engines.run_all(&case), None)),
            None => eprintln!("wasm-smith makes no module of this input"),
        }
    }
    match check(engines, data) {
        Ok(checked) => {
            let mut tally = TALLY.lock().unwrap_or_else(|p| p.into_inner());
            let tally = tally.get_or_insert_with(Tally::default);
            tally.add(checked.as_ref());
            let seen = tally.cases + tally.not_generated;
            if seen % every() == 0 {
                eprintln!("differential, engines {:?}: {tally}", engines.kinds());
            }
        }
        Err(divergence) => panic!("{divergence}"),
    }
});
