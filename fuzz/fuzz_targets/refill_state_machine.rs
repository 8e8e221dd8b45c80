//! The host's refill state machine over an in-memory guest, against the
//! oracle of `refill_testkit::oracle`: every accepted write lies inside
//! memory, every refused request leaves memory untouched, every accepted
//! refill delivers the next payload bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use refill_testkit::oracle::{Scenario, run};

fuzz_target!(|scenario: Scenario| {
    if let Err(violation) = run(&scenario) {
        panic!("{violation} in {scenario:?}");
    }
});
