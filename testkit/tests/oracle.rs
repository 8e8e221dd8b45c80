//! The fuzz targets' oracle as a property test in the normal suite: random
//! scenarios (hostile descriptors, forged ids, guest rewrites, growth) never
//! make the host write outside guest memory, touch memory when it refuses,
//! or deliver anything but the next payload bytes.

use arbitrary::{Arbitrary, Unstructured};
use proptest::prelude::*;
use refill_testkit::oracle::{Scenario, run};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn the_host_keeps_every_promise(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut input = Unstructured::new(&bytes);
        if let Ok(scenario) = Scenario::arbitrary(&mut input) {
            let report = run(&scenario);
            prop_assert!(report.is_ok(), "{} in {scenario:?}", report.err().map(|v| v.0).unwrap_or_default());
        }
    }
}

/// The oracle is not vacuous: a well-behaved guest gets every byte, with
/// the refill count the chunk size implies, and nothing is refused.
#[test]
fn a_sensible_guest_gets_every_byte() {
    for (len, chunk) in [(0u16, 8u16), (1000, 64), (5000, 1000), (4092, 1024)] {
        let fills = refill_testkit::expected_fills(u64::from(len), u32::from(chunk)) as usize;
        let report = run(&Scenario::sensible(len, chunk, fills + 3));
        let report = report.unwrap_or_else(|v| panic!("{v}"));
        assert_eq!(
            (report.delivered, report.total, report.refused),
            (len as usize, len as usize, 0)
        );
    }
}
