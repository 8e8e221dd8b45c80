//! Descriptor decoding: any 32 bytes decode without panicking, and encoding
//! the result gives the same bytes back, padding aside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use refill_core::BufferDescriptor;

fuzz_target!(|bytes: [u8; 32]| {
    let descriptor = BufferDescriptor::decode(&bytes);
    let mut again = descriptor.encode();
    assert_eq!(&again[12..16], &[0; 4], "padding must encode as zeros");
    again[12..16].copy_from_slice(&bytes[12..16]);
    assert_eq!(again, bytes, "decode/encode must round-trip");
    assert_eq!(BufferDescriptor::decode(&again), descriptor);
});
