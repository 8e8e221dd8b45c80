//! The guests written as WebAssembly text: the hostile guests (from
//! `refill_testkit::hostile`, the generator the host's conformance suite
//! uses), the limits guest and the guest with 1-byte pages.
//!
//! Nothing here needs an engine: a firmware's build script compiles these
//! with the `wat` crate into flash, a host test compiles them at run time,
//! and both hand the bytes to [`crate::run_all`] by name.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use refill_core::BufferDescriptor;
use refill_testkit::hostile::{Buf, DESCRIPTOR, HostileGuest, Id, PAGES, Step};

/// One guest as WebAssembly text, to be compiled by whoever runs the cases.
#[derive(Clone, Debug)]
pub struct TextGuest {
    /// The name the cases look the compiled guest up by.
    pub name: &'static str,
    /// The module as WebAssembly text.
    pub wat: String,
}

/// The guest with 1-byte pages (custom-page-sizes proposal): 328 bytes of
/// linear memory, a 256-byte buffer, and `digest(d)`, the `Digest64` of its
/// argument. Needs an engine built with custom page sizes.
pub const TINY_PAGES: &str = "tiny_pages";
/// A guest that grows its memory, spins, or answers 7 (`grow`, `spin`, `fine`).
pub const LIMITS: &str = "limits";
/// A hostile guest whose descriptor lies past the end of its memory.
pub const DESCRIPTOR_OUT_OF_BOUNDS: &str = "hostile_descriptor_out_of_bounds";
/// A hostile guest whose data area lies past the end of its memory.
pub const DATA_AREA_OUT_OF_BOUNDS: &str = "hostile_data_area_out_of_bounds";
/// A hostile guest whose write cursor cell straddles the end of its memory.
pub const CURSOR_OUT_OF_BOUNDS: &str = "hostile_cursor_out_of_bounds";
/// A hostile guest whose read cursor cell lies inside its descriptor.
pub const BUFFER_OVERLAP: &str = "hostile_buffer_overlap";
/// A hostile guest whose data area (3 bytes) cannot hold the header.
pub const BUFFER_TOO_SMALL: &str = "hostile_buffer_too_small";
/// A hostile guest whose `__frnt__initiate_buffer` traps.
pub const TRAPPING_INITIATE: &str = "hostile_trapping_initiate";
/// A hostile guest whose entry `hostile` refills with an id it was never given.
pub const WRONG_INSTANCE_ID: &str = "hostile_wrong_instance_id";
/// A hostile guest whose entry `hostile` refills a valid-looking descriptor
/// the host never primed.
pub const UNKNOWN_BUFFER: &str = "hostile_unknown_buffer";

/// The entry export of the hostile guests that misbehave while streaming.
pub const HOSTILE_ENTRY: &str = "hostile";
/// The chunk size the hostile guests' data area is laid out for.
pub const HOSTILE_CHUNK: u32 = 256;

/// The name of the case that streams 1 MiB into the [`TINY_PAGES`] guest,
/// whose figures (heap included) a firmware reports apart.
pub const TINY_PAGES_CASE: &str = "pages/size=1/chunk=256/len=1048576";

/// Linear memory of the [`TINY_PAGES`] guest, in bytes (1-byte pages).
pub const TINY_PAGES_MEMORY: u32 = 328;
/// The buffer of the [`TINY_PAGES`] guest: its data area's size.
pub const TINY_PAGES_BUFFER: u32 = 256;

/// Every guest the cases need as text, by name.
pub fn text_guests() -> Vec<TextGuest> {
    let size = i64::from(PAGES) * 65_536;
    let standard = || HostileGuest::standard(HOSTILE_CHUNK);
    let decoy = BufferDescriptor {
        start: 0x4000,
        capacity: HOSTILE_CHUNK,
        last_read: 0x3040,
        last_write: 0x3044,
    };
    let hostile = [
        (DESCRIPTOR_OUT_OF_BOUNDS, standard().returning(size)),
        (
            DATA_AREA_OUT_OF_BOUNDS,
            standard().map_descriptor(|d| d.start = size - 16),
        ),
        (
            CURSOR_OUT_OF_BOUNDS,
            standard().map_descriptor(|d| d.last_write = size - 2),
        ),
        (
            BUFFER_OVERLAP,
            standard().map_descriptor(|d| d.last_read = i64::from(DESCRIPTOR) + 8),
        ),
        (
            BUFFER_TOO_SMALL,
            standard().map_descriptor(|d| d.capacity = 3),
        ),
        (TRAPPING_INITIATE, standard().with_trapping_initiate()),
        (
            WRONG_INSTANCE_ID,
            standard().with_entry(
                HOSTILE_ENTRY,
                [Step::Consume, Step::Refill(Id::Const(0), Buf::Arg)],
            ),
        ),
        (
            UNKNOWN_BUFFER,
            standard().with_bytes(0x3000, decoy.encode()).with_entry(
                HOSTILE_ENTRY,
                [Step::Consume, Step::Refill(Id::Own, Buf::At(0x3000))],
            ),
        ),
    ];
    let mut guests = vec![
        TextGuest {
            name: TINY_PAGES,
            wat: tiny_pages_wat(),
        },
        TextGuest {
            name: LIMITS,
            wat: String::from(LIMITS_WAT),
        },
    ];
    guests.extend(hostile.into_iter().map(|(name, guest)| TextGuest {
        name,
        wat: guest.wat(),
    }));
    guests
}

/// [`LIMITS`]: one 64 KiB page that grows on request, a loop that never
/// ends, and a harmless export.
const LIMITS_WAT: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) (i64.const 0))
  (func (export "grow") (param i64) (result i64)
    (i64.extend_i32_s (memory.grow (i32.wrap_i64 (local.get 0)))))
  (func (export "spin") (result i64) (loop $forever (br $forever)) (i64.const 0))
  (func (export "fine") (result i64) (i64.const 7)))
"#;

// `refill_testkit::Digest64`'s constants, for the guest that computes it in
// WebAssembly text; the case checks its result against `generated_digest`.
const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;

/// [`TINY_PAGES`]: memory of [`TINY_PAGES_MEMORY`] 1-byte pages, laid out
/// as descriptor (0..32), read cell (32), write cell (36), the digest's
/// pending block (40..72) and the data area (72..328). `digest(d)` reads the
/// header, feeds every byte to a `Digest64` (whole 32-byte blocks straight
/// from the data area, the rest through the pending block), refills when
/// drained, and traps on a stream that ends early or overruns.
fn tiny_pages_wat() -> String {
    alloc::format!(
        r#"(module
  (import "freenet_contract_io" "__frnt__fill_buffer" (func $fill (param i64 i64) (result i32)))
  (memory (export "memory") {memory} {memory} (pagesize 1))
  (global $id (mut i64) (i64.const -1))
  (global $l0 (mut i64) (i64.const 0))
  (global $l1 (mut i64) (i64.const 0))
  (global $l2 (mut i64) (i64.const 0))
  (global $l3 (mut i64) (i64.const 0))
  (global $pending (mut i32) (i32.const 0))
  (func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))
  (func (export "__frnt__initiate_buffer") (param $capacity i32) (result i64)
    (i64.store (i32.const 0) (i64.const 72))
    (i64.store (i32.const 8) (i64.extend_i32_u
      (select (local.get $capacity) (i32.const {buffer})
        (i32.lt_u (local.get $capacity) (i32.const {buffer})))))
    (i64.store (i32.const 16) (i64.const 32))
    (i64.store (i32.const 24) (i64.const 36))
    (i64.const 0))
  (func $round (param $lane i64) (param $word i64) (result i64)
    (i64.rotl (i64.mul (i64.xor (local.get $lane) (local.get $word)) (i64.const {p1}))
      (i64.const 29)))
  (func $block (param $at i32)
    (global.set $l0 (call $round (global.get $l0) (i64.load (local.get $at))))
    (global.set $l1 (call $round (global.get $l1) (i64.load offset=8 (local.get $at))))
    (global.set $l2 (call $round (global.get $l2) (i64.load offset=16 (local.get $at))))
    (global.set $l3 (call $round (global.get $l3) (i64.load offset=24 (local.get $at)))))
  (func $update (param $at i32) (param $len i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (if (i32.and (i32.eqz (global.get $pending)) (i32.ge_u (local.get $len) (i32.const 32)))
          (then
            (call $block (local.get $at))
            (local.set $at (i32.add (local.get $at) (i32.const 32)))
            (local.set $len (i32.sub (local.get $len) (i32.const 32))))
          (else
            (i32.store8 offset=40 (global.get $pending) (i32.load8_u (local.get $at)))
            (global.set $pending (i32.add (global.get $pending) (i32.const 1)))
            (local.set $at (i32.add (local.get $at) (i32.const 1)))
            (local.set $len (i32.sub (local.get $len) (i32.const 1)))
            (if (i32.eq (global.get $pending) (i32.const 32))
              (then
                (call $block (i32.const 40))
                (global.set $pending (i32.const 0))))))
        (br $next))))
  (func $finish (param $total i64) (result i64) (local $h i64) (local $i i32)
    (local.set $h (i64.mul (local.get $total) (i64.const {p2})))
    (local.set $h (call $round (local.get $h) (global.get $l0)))
    (local.set $h (call $round (local.get $h) (i64.rotl (global.get $l1) (i64.const 16))))
    (local.set $h (call $round (local.get $h) (i64.rotl (global.get $l2) (i64.const 32))))
    (local.set $h (call $round (local.get $h) (i64.rotl (global.get $l3) (i64.const 48))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (global.get $pending)))
        (local.set $h (call $round (local.get $h) (i64.load8_u offset=40 (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))))
    (local.set $h (i64.mul (local.get $h) (i64.const {p2})))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))))
  (func (export "digest") (param $d i64) (result i64)
    (local $at i32) (local $start i32) (local $read i32) (local $write i32)
    (local $total i64) (local $left i64) (local $r i32) (local $w i32) (local $n i32)
    (local.set $at (i32.wrap_i64 (local.get $d)))
    (local.set $start (i32.wrap_i64 (i64.load (local.get $at))))
    (local.set $read (i32.wrap_i64 (i64.load offset=16 (local.get $at))))
    (local.set $write (i32.wrap_i64 (i64.load offset=24 (local.get $at))))
    (global.set $l0 (i64.const {p1}))
    (global.set $l1 (i64.const {p2}))
    (global.set $l2 (i64.const {p12}))
    (global.set $l3 (i64.const {not_p1}))
    (global.set $pending (i32.const 0))
    (local.set $total (i64.load32_u (local.get $start)))
    (local.set $left (local.get $total))
    (local.set $r (i32.const 4))
    (local.set $w (i32.load (local.get $write)))
    (loop $chunk
      (if (i32.gt_u (local.get $r) (local.get $w)) (then unreachable))
      (local.set $n (i32.sub (local.get $w) (local.get $r)))
      (if (i64.gt_u (i64.extend_i32_u (local.get $n)) (local.get $left)) (then unreachable))
      (call $update (i32.add (local.get $start) (local.get $r)) (local.get $n))
      (local.set $left (i64.sub (local.get $left) (i64.extend_i32_u (local.get $n))))
      (i32.store (local.get $read) (local.get $w))
      (if (i64.ne (local.get $left) (i64.const 0))
        (then
          (if (i32.eqz (call $fill (global.get $id) (local.get $d))) (then unreachable))
          (local.set $r (i32.load (local.get $read)))
          (local.set $w (i32.load (local.get $write)))
          (br $chunk))))
    (call $finish (local.get $total))))
"#,
        memory = TINY_PAGES_MEMORY,
        buffer = TINY_PAGES_BUFFER,
        p1 = PRIME_1,
        p2 = PRIME_2,
        p12 = PRIME_1 ^ PRIME_2,
        not_p1 = !PRIME_1,
    )
}
