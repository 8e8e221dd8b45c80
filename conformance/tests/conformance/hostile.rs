//! Hostile guests: every layout, id and call sequence a guest can get wrong,
//! each refused with the kind `docs/protocol.md` names (or served exactly, where
//! the protocol allows it), with nothing written by a rejected request, and the
//! host still usable afterwards.
//!
//! The guests come from one template, `refill_conformance::hostile`. Check
//! order, from the protocol's `CheckedBuffer::locate`: descriptor bounds, data
//! area bounds, read cell bounds, write cell bounds, then the overlap pairs
//! descriptor/data, descriptor/read, descriptor/write, data/read, data/write,
//! read/write. Priming then refuses a descriptor already in use
//! (`BufferOverlap`) and a usable area under 4 bytes (`BufferTooSmall`); a
//! refill first checks the id, then the buffer address, then returns 0 at the
//! end of a stream, then locates, then refuses an empty usable area.

use std::io::Cursor;

use refill::abi::WASM_PAGE_SIZE;
use refill::core::BufferDescriptor;
use refill::{
    AnyInstance, BoxedSource, EngineKind, ErrorKind, Instance, InstanceConfig, InstanceExt,
    ReaderSource, Result, StreamOptions, StreamSource,
};
use refill_conformance::hostile::{
    Buf, CELL_SENTINEL, DATA, DESCRIPTOR, DRAIN, HostileGuest, Id, LOG, PAGES, PING, READ_CELL,
    SETUP, SINK, Step, WRITE_CELL,
};
use refill_conformance::{
    GeneratedSource, expected_fills, generated, generated_digest, instantiate, instantiate_with,
};
use rstest::rstest;
use rstest_reuse::apply;

use super::engines;
use super::errors::{kind_of, wat};

/// The chunk size of every hostile instance: small, so payloads take many refills.
const CHUNK: u32 = 256;
/// The payload length of most cases: the first chunk, 10 full refills and 188 bytes.
const LEN: u64 = 3000;
/// The initial memory size of the standard layout.
const SIZE: i64 = PAGES as i64 * WASM_PAGE_SIZE as i64;
/// 2^32: the first address past the 32-bit space.
const FOUR_GIB: i64 = 1 << 32;
/// Where the standard descriptor's `start` field lies.
const START: u32 = DESCRIPTOR;
/// Where its `capacity` field lies.
const CAPACITY: u32 = DESCRIPTOR + 8;
/// Where its `last_read` field lies.
const LAST_READ: u32 = DESCRIPTOR + 16;
/// Where its `last_write` field lies.
const LAST_WRITE: u32 = DESCRIPTOR + 24;

/// The standard layout with a data area of one chunk.
fn guest() -> HostileGuest {
    HostileGuest::standard(CHUNK)
}

/// The standard layout with the descriptor changed by `f`.
fn guest_with(f: impl FnOnce(&mut BufferDescriptor)) -> HostileGuest {
    guest().map_descriptor(f)
}

/// A fresh instance of `guest` with chunks of [`CHUNK`] bytes.
fn start(engine: EngineKind, guest: &HostileGuest) -> Result<AnyInstance> {
    instantiate(engine, &wat(&guest.wat()), CHUNK)
}

/// The payload `seed` of `len` bytes.
fn payload(seed: u64, len: u64) -> Vec<u8> {
    refill_testkit::generated(seed, len as usize)
}

/// What a guest that consumes every byte it is given sinks: the header, then
/// the payload.
fn framed(seed: u64, len: u64) -> Vec<u8> {
    let mut bytes = (len as u32).to_le_bytes().to_vec();
    bytes.extend(payload(seed, len));
    bytes
}

/// The refill results an honest drain logs with a usable area of `usable`
/// bytes: every refill until the one returning 0.
fn drain_log(len: u64, usable: u32) -> Vec<u32> {
    let mut remaining = len - len.min(u64::from(usable) - 4);
    let mut log = Vec::new();
    while remaining > 0 {
        let n = remaining.min(u64::from(usable));
        log.push(n as u32);
        remaining -= n;
    }
    log.push(0);
    log
}

/// The size of the last refill that brings bytes, for a usable area of one chunk.
fn last_refill(len: u64) -> u32 {
    let log = drain_log(len, CHUNK);
    log[log.len() - 2]
}

fn memory(instance: &AnyInstance) -> Result<Vec<u8>> {
    instance.read_memory(0, instance.memory_size())
}

fn u32_at(instance: &AnyInstance, addr: u32) -> Result<u32> {
    let bytes = instance.read_memory(addr.into(), 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The first `n` refill results the last entry logged.
fn log(instance: &AnyInstance, n: usize) -> Result<Vec<u32>> {
    (0..n as u32)
        .map(|k| u32_at(instance, LOG + 4 * k))
        .collect()
}

/// Asserts two byte strings are equal, naming the first difference.
#[track_caller]
fn assert_bytes(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes vs {} expected, first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// Asserts what the last entry sank: `want`, and it returned its length.
#[track_caller]
fn assert_sunk(instance: &AnyInstance, returned: i64, want: &[u8], what: &str) -> Result<()> {
    assert_eq!(returned as usize, want.len(), "{what}: bytes sunk");
    assert_bytes(
        &instance.read_memory(SINK.into(), want.len() as u64)?,
        want,
        what,
    );
    Ok(())
}

/// The instance still streams: payload `seed` arrives whole through the
/// honest drain, with the refills the protocol implies.
#[track_caller]
fn assert_drains(instance: &mut AnyInstance, seed: u64, len: u64) -> Result<()> {
    let before = instance.stats();
    let returned = instance.call_with_streams(DRAIN, [generated(seed, len)])?;
    assert_sunk(instance, returned, &framed(seed, len), "drain")?;
    let after = instance.stats();
    assert_eq!(after.fills - before.fills, expected_fills(len, CHUNK) + 1);
    assert_eq!(after.bytes_streamed - before.bytes_streamed, len);
    Ok(())
}

/// The instance answers its harmless export with the id it was given.
#[track_caller]
fn assert_answers(instance: &mut AnyInstance) -> Result<()> {
    assert_eq!(instance.call(PING, &[])?, instance.instance_id(), "ping");
    Ok(())
}

/// The host is still usable on `engine`: a fresh instance of the digest
/// fixture streams a payload correctly.
fn assert_host_still_works(engine: EngineKind) -> Result<()> {
    let fixture = &refill_fixtures::DIGEST;
    let mut fresh = instantiate(engine, fixture.wasm, 4096)?;
    let result = fresh.call_with_streams(fixture.export, [generated(77, 100_003)])?;
    assert_eq!(
        result as u64,
        generated_digest(77, 100_003),
        "{engine}: a fresh instance no longer streams"
    );
    Ok(())
}

/// A priming-time fault: `open_stream` fails with `kind` and writes nothing
/// (guest memory is exactly what `__frnt__initiate_buffer` left), no stream
/// is registered, `call_with_streams` fails the same way, the instance still
/// answers, and the host still works.
fn assert_prime_rejected(engine: EngineKind, guest: &HostileGuest, kind: ErrorKind) -> Result<()> {
    let mut instance = start(engine, guest)?;
    instance.call(SETUP, &[])?;
    let before = memory(&instance)?;
    let result = instance.open_stream(generated(1, LEN), StreamOptions::new());
    assert_eq!(kind_of(result), kind, "{engine}: open_stream");
    assert_bytes(
        &memory(&instance)?,
        &before,
        "memory after a rejected prime",
    );
    assert_eq!(instance.stats().streams, 0, "{engine}");
    let result = instance.call_with_streams(DRAIN, [generated(1, LEN)]);
    assert_eq!(kind_of(result), kind, "{engine}: call_with_streams");
    assert_answers(&mut instance)?;
    assert_host_still_works(engine)
}

/// A valid hostile layout: payload `seed` arrives whole through the honest
/// drain on a fresh instance; returns the instance for further checks.
fn assert_layout_streams(engine: EngineKind, guest: &HostileGuest) -> Result<AnyInstance> {
    let mut instance = start(engine, guest)?;
    let returned = instance.call_with_streams(DRAIN, [generated(5, LEN)])?;
    assert_sunk(&instance, returned, &framed(5, LEN), "drain")?;
    let usable = guest.descriptor().capacity.min(CHUNK);
    let want = drain_log(LEN, usable);
    assert_eq!(
        log(&instance, want.len())?,
        want,
        "{engine}: refill results"
    );
    assert_eq!(instance.stats().bytes_streamed, LEN, "{engine}");
    assert_answers(&mut instance)?;
    assert_host_still_works(engine)?;
    Ok(instance)
}

/// A refill-time fault: running `steps` then `bad` traps the call with `kind`,
/// and guest memory is exactly what `steps` alone leave (on a twin instance):
/// the rejected refill wrote nothing. Only checks 1 and 2 (id, buffer) leave
/// the refill counter alone. The instance then answers, streams a new
/// payload in a new call, and the host still works.
fn assert_refill_rejected(
    engine: EngineKind,
    guest: HostileGuest,
    steps: &[Step],
    bad: Step,
    kind: ErrorKind,
) -> Result<()> {
    let mut hostile = steps.to_vec();
    hostile.push(bad);
    let guest = guest
        .with_entry("hostile", hostile)
        .with_entry("twin", steps);
    let mut twin = start(engine, &guest)?;
    twin.call_with_streams("twin", [generated(2, LEN)])?;
    let mut instance = start(engine, &guest)?;
    let result = instance.call_with_streams("hostile", [generated(2, LEN)]);
    assert_eq!(kind_of(result), kind, "{engine}");
    assert_bytes(
        &memory(&instance)?,
        &memory(&twin)?,
        "memory after a rejected refill",
    );
    let counted = u64::from(!matches!(
        kind,
        ErrorKind::WrongInstanceId | ErrorKind::UnknownBuffer
    ));
    assert_eq!(
        instance.stats().fills,
        twin.stats().fills + counted,
        "{engine}: fills"
    );
    assert_eq!(instance.stats().bytes_streamed, twin.stats().bytes_streamed);
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 3, LEN)?;
    assert_host_still_works(engine)
}

// ---------------------------------------------------------------------------
// The descriptor address

/// A descriptor at or past the end of memory is `DescriptorOutOfBounds`.
#[apply(engines)]
fn descriptor_past_the_end_of_memory_is_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    for addr in [SIZE, SIZE + 4096, i64::from(u32::MAX)] {
        assert_prime_rejected(
            engine,
            &guest().returning(addr),
            ErrorKind::DescriptorOutOfBounds,
        )?;
    }
    Ok(())
}

/// A descriptor in the last 32 bytes of memory is valid and streams; the
/// host never writes the descriptor.
#[apply(engines)]
fn descriptor_in_the_last_32_bytes_streams(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest().returning(SIZE - 32);
    let instance = assert_layout_streams(engine, &guest)?;
    let descriptor = instance.read_memory(SIZE - 32, 32)?;
    assert_eq!(descriptor, guest.descriptor().encode(), "{engine}");
    Ok(())
}

/// A descriptor one byte further, at `size - 31`, is `DescriptorOutOfBounds`
/// even though 31 of its bytes (a valid descriptor's) lie in memory.
#[apply(engines)]
fn descriptor_one_byte_too_far_is_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest()
        .returning(SIZE - 31)
        .writing_descriptor_at(Some(SIZE as u32 - 32));
    assert_prime_rejected(engine, &guest, ErrorKind::DescriptorOutOfBounds)
}

/// A negative descriptor address is `DescriptorOutOfBounds`.
#[apply(engines)]
fn negative_descriptor_is_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    for addr in [-32, -(1 << 32) + i64::from(DESCRIPTOR), i64::MIN] {
        let guest = guest()
            .returning(addr)
            .writing_descriptor_at(Some(DESCRIPTOR));
        assert_prime_rejected(engine, &guest, ErrorKind::DescriptorOutOfBounds)?;
    }
    Ok(())
}

/// A descriptor address above `u32::MAX` is `DescriptorOutOfBounds`, never
/// truncated onto the valid descriptor its low 32 bits name.
#[apply(engines)]
fn descriptor_above_4gib_does_not_alias_low_memory(#[case] engine: EngineKind) -> Result<()> {
    let low = i64::from(DESCRIPTOR);
    for addr in [FOUR_GIB + low, (FOUR_GIB << 8) + low, i64::MAX] {
        let guest = guest()
            .returning(addr)
            .writing_descriptor_at(Some(DESCRIPTOR));
        assert_prime_rejected(engine, &guest, ErrorKind::DescriptorOutOfBounds)?;
    }
    Ok(())
}

/// A misaligned descriptor, cells and data area (odd addresses) are valid
/// and stream correctly.
#[apply(engines)]
fn misaligned_descriptor_and_cells_stream(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest()
        .returning(i64::from(DESCRIPTOR) + 1)
        .map_descriptor(|d| {
            d.start = i64::from(DATA) + 3;
            d.last_read = i64::from(READ_CELL) + 1;
            d.last_write = i64::from(READ_CELL) + 7;
        });
    assert_layout_streams(engine, &guest).map(drop)
}

/// `__frnt__initiate_buffer` returning garbage (-1, a huge value) is
/// `DescriptorOutOfBounds` at priming.
#[apply(engines)]
fn initiate_returning_garbage_is_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    for addr in [-1, 0xDEAD_BEEF_DEAD_BEEF_u64 as i64] {
        let guest = guest()
            .returning(addr)
            .writing_descriptor_at(Some(DESCRIPTOR));
        assert_prime_rejected(engine, &guest, ErrorKind::DescriptorOutOfBounds)?;
    }
    Ok(())
}

/// `__frnt__initiate_buffer` that traps is `Trap` at priming; the instance's
/// other exports still answer.
#[apply(engines)]
fn trapping_initiate_is_a_trap(#[case] engine: EngineKind) -> Result<()> {
    assert_prime_rejected(engine, &guest().with_trapping_initiate(), ErrorKind::Trap)
}

// ---------------------------------------------------------------------------
// The data area

/// A data area whose declared end passes 2^32 is `DataAreaOutOfBounds`, even
/// though its usable part (one chunk) lies in memory.
#[apply(engines)]
fn data_area_past_4gib_is_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    let capacity = (FOUR_GIB - i64::from(DATA) + 1) as u32;
    let guest = guest_with(|d| d.capacity = capacity);
    assert_prime_rejected(engine, &guest, ErrorKind::DataAreaOutOfBounds)
}

/// A data area declared to end exactly at 2^32 is valid: only its usable part
/// must exist, and the host writes one chunk at a time into it.
#[apply(engines)]
fn data_area_ending_exactly_at_4gib_streams(#[case] engine: EngineKind) -> Result<()> {
    let capacity = (FOUR_GIB - i64::from(DATA)) as u32;
    assert_layout_streams(engine, &guest_with(|d| d.capacity = capacity)).map(drop)
}

/// A data area within 4 GiB but past the live memory size is
/// `DataAreaOutOfBounds`.
#[apply(engines)]
fn data_area_past_the_live_size_is_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    for start in [SIZE - 16, SIZE, 0x8000_0000] {
        let guest = guest_with(|d| d.start = start);
        assert_prime_rejected(engine, &guest, ErrorKind::DataAreaOutOfBounds)?;
    }
    Ok(())
}

/// A data area ending exactly at the end of memory is valid and streams.
#[apply(engines)]
fn data_area_ending_at_the_end_of_memory_streams(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest_with(|d| d.start = SIZE - i64::from(CHUNK));
    assert_layout_streams(engine, &guest).map(drop)
}

/// A negative data area start, or one above 4 GiB whose low 32 bits name
/// valid memory, is `DataAreaOutOfBounds`.
#[apply(engines)]
fn data_area_at_a_negative_or_aliased_start_is_out_of_bounds(
    #[case] engine: EngineKind,
) -> Result<()> {
    for start in [
        -1,
        -(FOUR_GIB) + i64::from(DATA),
        FOUR_GIB + i64::from(DATA),
    ] {
        let guest = guest_with(|d| d.start = start);
        assert_prime_rejected(engine, &guest, ErrorKind::DataAreaOutOfBounds)?;
    }
    Ok(())
}

/// A data area of capacity 0 cannot hold the header: `BufferTooSmall` at
/// priming, with a payload pending.
#[apply(engines)]
fn zero_capacity_cannot_be_primed(#[case] engine: EngineKind) -> Result<()> {
    assert_prime_rejected(
        engine,
        &guest_with(|d| d.capacity = 0),
        ErrorKind::BufferTooSmall,
    )
}

/// A data area of 3 bytes, smaller than the header, is `BufferTooSmall`.
#[apply(engines)]
fn capacity_three_cannot_hold_the_header(#[case] engine: EngineKind) -> Result<()> {
    assert_prime_rejected(
        engine,
        &guest_with(|d| d.capacity = 3),
        ErrorKind::BufferTooSmall,
    )
}

/// A data area of 4 bytes primes the header alone (cursors 0 and 4), then
/// every refill brings 4 bytes; the guest receives every byte in order.
#[apply(engines)]
fn capacity_four_primes_the_header_then_refills_four_bytes(
    #[case] engine: EngineKind,
) -> Result<()> {
    let len = 37;
    let mut instance = start(engine, &guest_with(|d| d.capacity = 4))?;
    let d = instance.open_stream(generated(8, len), StreamOptions::new())?;
    assert_eq!(d, i64::from(DESCRIPTOR));
    assert_eq!(u32_at(&instance, DATA)?, len as u32, "{engine}: header");
    assert_eq!(u32_at(&instance, READ_CELL)?, 0);
    assert_eq!(u32_at(&instance, WRITE_CELL)?, 4);
    assert_eq!(instance.stats().bytes_streamed, 0);
    let returned = instance.call(DRAIN, &[d])?;
    assert_sunk(&instance, returned, &framed(8, len), "drain")?;
    let mut want = vec![4; 9];
    want.extend([1, 0]);
    assert_eq!(log(&instance, 11)?, want, "{engine}: refill results");
    assert_eq!(instance.stats().fills, 11);
    assert_eq!(instance.stats().bytes_streamed, len);
    assert_answers(&mut instance)?;
    assert_host_still_works(engine)
}

/// A huge capacity (0xFFFF_0000) makes the host write at most one chunk per
/// request; the bytes past `start + chunk` stay untouched.
#[apply(engines)]
fn huge_capacity_gets_one_chunk_at_a_time(#[case] engine: EngineKind) -> Result<()> {
    let marker = vec![0xA5; 4096];
    let guest = guest_with(|d| d.capacity = 0xFFFF_0000).with_bytes(DATA + CHUNK, marker.clone());
    let instance = assert_layout_streams(engine, &guest)?;
    let after = instance.read_memory(i64::from(DATA + CHUNK), marker.len() as u64)?;
    assert_bytes(&after, &marker, "bytes past one chunk");
    Ok(())
}

// ---------------------------------------------------------------------------
// The cursor cells

/// A read cell that does not fit in memory (3 of its 4 bytes do) is
/// `CursorOutOfBounds`.
#[apply(engines)]
fn read_cell_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest_with(|d| d.last_read = SIZE - 3);
    assert_prime_rejected(engine, &guest, ErrorKind::CursorOutOfBounds)
}

/// A write cell at the end of memory is `CursorOutOfBounds`.
#[apply(engines)]
fn write_cell_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest_with(|d| d.last_write = SIZE);
    assert_prime_rejected(engine, &guest, ErrorKind::CursorOutOfBounds)
}

/// Negative cells, and cells above 4 GiB whose low 32 bits name valid cells,
/// are `CursorOutOfBounds`.
#[apply(engines)]
fn negative_or_aliased_cells_are_out_of_bounds(#[case] engine: EngineKind) -> Result<()> {
    let layouts: [fn(&mut BufferDescriptor); 4] = [
        |d| d.last_read = -4,
        |d| d.last_write = -1,
        |d| d.last_read = FOUR_GIB + i64::from(READ_CELL),
        |d| d.last_write = FOUR_GIB + i64::from(WRITE_CELL),
    ];
    for layout in layouts {
        assert_prime_rejected(engine, &guest_with(layout), ErrorKind::CursorOutOfBounds)?;
    }
    Ok(())
}

/// Cells in the last 8 bytes of memory are valid and stream.
#[apply(engines)]
fn cells_in_the_last_bytes_of_memory_stream(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest_with(|d| {
        d.last_read = SIZE - 8;
        d.last_write = SIZE - 4;
    });
    assert_layout_streams(engine, &guest).map(drop)
}

// ---------------------------------------------------------------------------
// Overlaps

/// A read cell sharing bytes with the usable data area is `BufferOverlap`.
#[apply(engines)]
fn read_cell_inside_the_data_area_overlaps(#[case] engine: EngineKind) -> Result<()> {
    for at in [DATA, DATA + 10, DATA + CHUNK - 1, DATA - 3] {
        let guest = guest_with(|d| d.last_read = at.into());
        assert_prime_rejected(engine, &guest, ErrorKind::BufferOverlap)?;
    }
    Ok(())
}

/// A write cell sharing bytes with the descriptor (its own `last_write`
/// field, or its first byte) is `BufferOverlap`.
#[apply(engines)]
fn write_cell_inside_the_descriptor_overlaps(#[case] engine: EngineKind) -> Result<()> {
    for at in [LAST_WRITE, DESCRIPTOR + 28, DESCRIPTOR - 3] {
        let guest = guest_with(|d| d.last_write = at.into());
        assert_prime_rejected(engine, &guest, ErrorKind::BufferOverlap)?;
    }
    Ok(())
}

/// A data area sharing bytes with the descriptor (one byte, either end) is
/// `BufferOverlap`.
#[apply(engines)]
fn data_area_over_the_descriptor_overlaps(#[case] engine: EngineKind) -> Result<()> {
    for start in [DESCRIPTOR + 31, DESCRIPTOR + 1 - CHUNK, DESCRIPTOR] {
        let guest = guest_with(|d| {
            d.start = start.into();
            d.last_read = 0x8000;
            d.last_write = 0x8004;
        });
        assert_prime_rejected(engine, &guest, ErrorKind::BufferOverlap)?;
    }
    Ok(())
}

/// Two cursor cells at the same address, or sharing one byte, are
/// `BufferOverlap`.
#[apply(engines)]
fn cursor_cells_sharing_bytes_overlap(#[case] engine: EngineKind) -> Result<()> {
    for write in [READ_CELL, READ_CELL + 3, READ_CELL - 3] {
        let guest = guest_with(|d| d.last_write = write.into());
        assert_prime_rejected(engine, &guest, ErrorKind::BufferOverlap)?;
    }
    Ok(())
}

/// Parts that touch without sharing a byte (refill's own guest layout:
/// descriptor, read cell, write cell, data, back to back) are valid.
#[apply(engines)]
fn adjacent_parts_do_not_overlap(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest_with(|d| {
        d.last_read = i64::from(DESCRIPTOR) + 32;
        d.last_write = i64::from(DESCRIPTOR) + 36;
        d.start = i64::from(DESCRIPTOR) + 40;
    });
    assert_layout_streams(engine, &guest).map(drop)
}

/// Overlap is checked against the usable part of the data area only: cells
/// placed in the declared area past one chunk are valid.
#[apply(engines)]
fn cells_past_the_usable_part_of_the_data_area_are_valid(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest_with(|d| {
        d.capacity = 0x1_0000;
        d.last_read = i64::from(DATA + CHUNK);
        d.last_write = i64::from(DATA + CHUNK + 4);
    });
    assert_layout_streams(engine, &guest).map(drop)
}

/// The checks run in the documented order: descriptor bounds, data area
/// bounds, read and write cell bounds, overlaps, and (at priming) the header
/// room last. A layout with several faults reports the first.
#[apply(engines)]
fn checks_run_in_the_documented_order(#[case] engine: EngineKind) -> Result<()> {
    let all_wrong: fn(&mut BufferDescriptor) = |d| {
        d.start = SIZE;
        d.last_read = -4;
        d.last_write = i64::from(DESCRIPTOR);
    };
    let cases: [(HostileGuest, ErrorKind); 5] = [
        // Descriptor out of bounds, everything else wrong as well.
        (
            guest_with(all_wrong)
                .returning(SIZE)
                .writing_descriptor_at(Some(DESCRIPTOR)),
            ErrorKind::DescriptorOutOfBounds,
        ),
        // Data area out of bounds before cells out of bounds and overlaps.
        (guest_with(all_wrong), ErrorKind::DataAreaOutOfBounds),
        // Read cell out of bounds before the write cell's overlap.
        (
            guest_with(|d| {
                d.last_read = SIZE;
                d.last_write = i64::from(DESCRIPTOR);
            }),
            ErrorKind::CursorOutOfBounds,
        ),
        // Write cell out of bounds before the data area's overlap.
        (
            guest_with(|d| {
                d.start = i64::from(DESCRIPTOR);
                d.last_write = SIZE;
            }),
            ErrorKind::CursorOutOfBounds,
        ),
        // Overlap before the header room: 3 bytes over the descriptor.
        (
            guest_with(|d| {
                d.start = i64::from(DESCRIPTOR);
                d.capacity = 3;
            }),
            ErrorKind::BufferOverlap,
        ),
    ];
    for (guest, kind) in &cases {
        assert_prime_rejected(engine, guest, *kind)?;
    }
    Ok(())
}

/// A second argument primed at the descriptor of an open stream is
/// `BufferOverlap`; it writes nothing and registers nothing, so the first
/// stream still streams whole.
#[apply(engines)]
fn second_stream_at_an_open_descriptor_overlaps(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest())?;
    let d = instance.open_stream(generated(6, LEN), StreamOptions::new())?;
    let before = memory(&instance)?;
    assert_eq!(
        kind_of(instance.open_stream(generated(7, LEN), StreamOptions::new())),
        ErrorKind::BufferOverlap,
        "{engine}"
    );
    assert_bytes(
        &memory(&instance)?,
        &before,
        "memory after a rejected prime",
    );
    assert_eq!(instance.stats().streams, 1);
    let returned = instance.call(DRAIN, &[d])?;
    assert_sunk(&instance, returned, &framed(6, LEN), "first stream")?;
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 8, LEN)?;
    assert_host_still_works(engine)
}

// ---------------------------------------------------------------------------
// Ids and buffer addresses

/// An id the instance was never given (0, -2, 2^40, i64::MAX: none can come
/// from the id counter) is `WrongInstanceId`.
#[apply(engines)]
fn unknown_instance_id_is_refused(#[case] engine: EngineKind) -> Result<()> {
    for id in [0, -2, 1 << 40, i64::MAX] {
        assert_refill_rejected(
            engine,
            guest(),
            &[Step::Consume],
            Step::Refill(Id::Const(id), Buf::Arg),
            ErrorKind::WrongInstanceId,
        )?;
    }
    Ok(())
}

/// A guest without `__frnt_set_id` refills with -1: `WrongInstanceId`, even
/// for the end-of-stream refill after a payload that fit the first chunk
/// (which it did receive); with the id -1 from the embedder it streams.
#[apply(engines)]
fn guest_without_its_id_is_refused(#[case] engine: EngineKind) -> Result<()> {
    let module = wat(&guest().without_set_id().wat());
    let mut instance = instantiate(engine, &module, CHUNK)?;
    let result = instance.call_with_streams(DRAIN, [generated(4, LEN)]);
    assert_eq!(kind_of(result), ErrorKind::WrongInstanceId, "{engine}");
    assert_eq!(instance.stats().fills, 0);
    let returned = instance.call_with_streams(DRAIN, [generated(4, 100)]);
    assert_eq!(
        kind_of(returned),
        ErrorKind::WrongInstanceId,
        "{engine}: end-of-stream refill"
    );
    let sunk = instance.read_memory(SINK.into(), 104)?;
    assert_bytes(&sunk, &framed(4, 100), "the first chunk");
    assert_eq!(instance.call(PING, &[])?, -1);

    let config = InstanceConfig::new()
        .with_chunk_size(CHUNK)
        .with_instance_id(-1);
    let mut minus_one = instantiate_with(engine, &module, &config)?;
    assert_drains(&mut minus_one, 4, LEN)?;
    assert_host_still_works(engine)
}

/// A guest passing another live instance's id is `WrongInstanceId`, even at
/// the address where that instance has an open stream: the other instance's
/// memory and counters are untouched and its stream then streams whole.
#[apply(engines)]
fn another_live_instance_id_is_refused(#[case] engine: EngineKind) -> Result<()> {
    let mut victim = start(engine, &guest())?;
    let d = victim.open_stream(generated(9, LEN), StreamOptions::new())?;
    let before = (memory(&victim)?, victim.stats());
    let forger = guest().with_entry(
        "forge",
        [
            Step::Consume,
            Step::Refill(Id::Const(victim.instance_id()), Buf::At(d)),
        ],
    );
    let mut attacker = start(engine, &forger)?;
    let result = attacker.call_with_streams("forge", [generated(10, LEN)]);
    assert_eq!(kind_of(result), ErrorKind::WrongInstanceId, "{engine}");
    assert_bytes(&memory(&victim)?, &before.0, "the victim's memory");
    assert_eq!(victim.stats(), before.1, "{engine}: the victim's counters");
    let returned = victim.call(DRAIN, &[d])?;
    assert_sunk(&victim, returned, &framed(9, LEN), "the victim's stream")?;
    assert_answers(&mut attacker)?;
    assert_drains(&mut attacker, 11, LEN)?;
    assert_host_still_works(engine)
}

/// The id is checked before the buffer: a wrong id at a never-primed address
/// is `WrongInstanceId`.
#[apply(engines)]
fn the_id_is_checked_before_the_buffer(#[case] engine: EngineKind) -> Result<()> {
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume],
        Step::Refill(Id::Const(0), Buf::At(0x3000)),
        ErrorKind::WrongInstanceId,
    )
}

/// A refill at a valid-looking descriptor that was never primed is
/// `UnknownBuffer`; that buffer's memory is untouched.
#[apply(engines)]
fn never_primed_buffer_is_unknown(#[case] engine: EngineKind) -> Result<()> {
    let decoy = BufferDescriptor {
        start: 0x4000,
        capacity: CHUNK,
        last_read: 0x3040,
        last_write: 0x3044,
    };
    assert_refill_rejected(
        engine,
        guest().with_bytes(0x3000, decoy.encode()),
        &[Step::Consume],
        Step::Refill(Id::Own, Buf::At(0x3000)),
        ErrorKind::UnknownBuffer,
    )
}

/// A refill with no stream open at all is `UnknownBuffer`, and writes nothing.
#[apply(engines)]
fn refill_without_any_stream_is_unknown(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest().with_entry("refill", [Step::FILL]))?;
    let d = instance.call(SETUP, &[])?;
    let before = memory(&instance)?;
    assert_eq!(
        kind_of(instance.call("refill", &[d])),
        ErrorKind::UnknownBuffer,
        "{engine}"
    );
    assert_bytes(
        &memory(&instance)?,
        &before,
        "memory after a rejected refill",
    );
    assert_eq!(instance.stats().fills, 0);
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 12, LEN)?;
    assert_host_still_works(engine)
}

/// The descriptor of a call that returned is released: refilling it in a
/// later call is `UnknownBuffer`, and writes nothing.
#[apply(engines)]
fn buffer_of_a_finished_call_is_unknown(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest().with_entry("refill", [Step::FILL]))?;
    assert_drains(&mut instance, 13, LEN)?;
    let before = (memory(&instance)?, instance.stats());
    let result = instance.call("refill", &[i64::from(DESCRIPTOR)]);
    assert_eq!(kind_of(result), ErrorKind::UnknownBuffer, "{engine}");
    assert_bytes(
        &memory(&instance)?,
        &before.0,
        "memory after a rejected refill",
    );
    assert_eq!(instance.stats(), before.1, "{engine}");
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 14, LEN)?;
    assert_host_still_works(engine)
}

/// After the end of a stream every refill returns 0 and writes nothing: a
/// million of them in a loop all return 0, each counts as a refill, and
/// guest memory does not grow.
#[apply(engines)]
fn a_million_refills_after_the_end_return_zero(#[case] engine: EngineKind) -> Result<()> {
    let times = 1_000_000;
    let guest = guest().with_entry("hammer", [Step::Drain, Step::RefillRepeatedly(times)]);
    let mut instance = start(engine, &guest)?;
    let size = instance.memory_size();
    let returned = instance.call_with_streams("hammer", [generated(15, LEN)])?;
    assert_sunk(&instance, returned, &framed(15, LEN), "drain")?;
    let drained = drain_log(LEN, CHUNK);
    let mut want = drained.clone();
    want.push(times);
    assert_eq!(log(&instance, want.len())?, want, "{engine}: zeros counted");
    assert_eq!(
        instance.stats().fills,
        drained.len() as u64 + u64::from(times),
        "{engine}"
    );
    assert_eq!(instance.stats().bytes_streamed, LEN);
    assert_eq!(instance.memory_size(), size, "{engine}: memory grew");
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 16, LEN)?;
    assert_host_still_works(engine)
}

/// A refill while unread bytes remain is served: the host overwrites the
/// buffer with the next chunk (returned size, cursors 0 and n) and the
/// unread bytes are lost, as in the reference host.
#[apply(engines)]
fn refill_with_unread_bytes_overwrites_them(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest()
        .with_entry("skip", [Step::FILL])
        .with_entry("skip_then_drain", [Step::FILL, Step::Drain]);
    let mut instance = start(engine, &guest)?;
    instance.call_with_streams("skip", [generated(17, LEN)])?;
    assert_eq!(log(&instance, 1)?, [CHUNK], "{engine}: refill result");
    assert_eq!(u32_at(&instance, READ_CELL)?, 0);
    assert_eq!(u32_at(&instance, WRITE_CELL)?, CHUNK);
    let first = (CHUNK - 4) as usize;
    let data = instance.read_memory(DATA.into(), CHUNK.into())?;
    assert_bytes(
        &data,
        &payload(17, LEN)[first..first + CHUNK as usize],
        "the next chunk",
    );

    let returned = instance.call_with_streams("skip_then_drain", [generated(18, LEN)])?;
    assert_sunk(
        &instance,
        returned,
        &payload(18, LEN)[first..],
        "all but the first chunk",
    )?;
    assert_answers(&mut instance)?;
    assert_host_still_works(engine)
}

// ---------------------------------------------------------------------------
// Rewriting the descriptor between refills

/// A data area moved between refills is followed: the next chunks land at
/// the new start, the old area keeps its stale chunk.
#[apply(engines)]
fn moving_the_data_area_between_refills_is_followed(#[case] engine: EngineKind) -> Result<()> {
    let moved = 0x8000;
    let guest = guest().with_entry(
        "move",
        [
            Step::Consume,
            Step::FILL,
            Step::Consume,
            Step::Store64(START, moved),
            Step::Drain,
        ],
    );
    let mut instance = start(engine, &guest)?;
    let returned = instance.call_with_streams("move", [generated(19, LEN)])?;
    assert_sunk(&instance, returned, &framed(19, LEN), "moved stream")?;
    let data = payload(19, LEN);
    let first = (CHUNK - 4) as usize;
    let old = instance.read_memory(DATA.into(), CHUNK.into())?;
    assert_bytes(&old, &data[first..first + CHUNK as usize], "the old area");
    let last = last_refill(LEN) as usize;
    let new = instance.read_memory(moved, last as u64)?;
    assert_bytes(&new, &data[data.len() - last..], "the new area");
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 20, LEN)?;
    assert_host_still_works(engine)
}

/// Cursor cells moved between refills are followed: the host writes the new
/// cells and leaves the old ones as they were.
#[apply(engines)]
fn moving_the_cells_between_refills_is_followed(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest().with_entry(
        "move",
        [
            Step::Consume,
            Step::FILL,
            Step::Consume,
            Step::Store64(LAST_READ, 0x5000),
            Step::Store64(LAST_WRITE, 0x5004),
            Step::Drain,
        ],
    );
    let mut instance = start(engine, &guest)?;
    let returned = instance.call_with_streams("move", [generated(21, LEN)])?;
    assert_sunk(
        &instance,
        returned,
        &framed(21, LEN),
        "stream with moved cells",
    )?;
    assert_eq!(
        u32_at(&instance, READ_CELL)?,
        CHUNK,
        "{engine}: old read cell"
    );
    assert_eq!(
        u32_at(&instance, WRITE_CELL)?,
        CHUNK,
        "{engine}: old write cell"
    );
    let last = last_refill(LEN);
    assert_eq!(u32_at(&instance, 0x5000)?, last, "{engine}: new read cell");
    assert_eq!(u32_at(&instance, 0x5004)?, last, "{engine}: new write cell");
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 22, LEN)?;
    assert_host_still_works(engine)
}

/// A capacity shrunk between refills shrinks the refills that follow.
#[apply(engines)]
fn shrinking_the_capacity_between_refills_shrinks_the_refills(
    #[case] engine: EngineKind,
) -> Result<()> {
    let guest = guest().with_entry(
        "shrink",
        [Step::Consume, Step::Store32(CAPACITY, 16), Step::Drain],
    );
    let mut instance = start(engine, &guest)?;
    let returned = instance.call_with_streams("shrink", [generated(23, LEN)])?;
    assert_sunk(
        &instance,
        returned,
        &framed(23, LEN),
        "stream with 16-byte refills",
    )?;
    let rest = LEN - u64::from(CHUNK - 4);
    let mut want = vec![16; (rest / 16) as usize];
    want.extend([(rest % 16) as u32, 0]);
    assert_eq!(
        log(&instance, want.len())?,
        want,
        "{engine}: refill results"
    );
    assert_answers(&mut instance)?;
    assert_host_still_works(engine)
}

/// A data area moved past the end of memory between refills makes the next
/// refill trap with `DataAreaOutOfBounds`, writing nothing.
#[apply(engines)]
fn moving_the_data_area_out_of_memory_traps(#[case] engine: EngineKind) -> Result<()> {
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume, Step::Store64(START, SIZE - 8)],
        Step::FILL,
        ErrorKind::DataAreaOutOfBounds,
    )
}

/// A capacity raised between refills so that the area passes 2^32 makes the
/// next refill trap with `DataAreaOutOfBounds`.
#[apply(engines)]
fn raising_the_capacity_past_4gib_traps(#[case] engine: EngineKind) -> Result<()> {
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume, Step::Store32(CAPACITY, u32::MAX)],
        Step::FILL,
        ErrorKind::DataAreaOutOfBounds,
    )
}

/// A capacity set to 0 while bytes remain makes the next refill trap with
/// `BufferTooSmall`.
#[apply(engines)]
fn zero_capacity_at_a_refill_is_too_small(#[case] engine: EngineKind) -> Result<()> {
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume, Step::Store32(CAPACITY, 0)],
        Step::FILL,
        ErrorKind::BufferTooSmall,
    )
}

/// A cell moved out of memory between refills makes the next refill trap
/// with `CursorOutOfBounds`.
#[apply(engines)]
fn moving_a_cell_out_of_memory_traps(#[case] engine: EngineKind) -> Result<()> {
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume, Step::Store64(LAST_WRITE, SIZE - 2)],
        Step::FILL,
        ErrorKind::CursorOutOfBounds,
    )?;
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume, Step::Store64(LAST_READ, -1)],
        Step::FILL,
        ErrorKind::CursorOutOfBounds,
    )
}

/// A cell moved into the data area or onto the descriptor between refills
/// makes the next refill trap with `BufferOverlap`.
#[apply(engines)]
fn moving_a_cell_over_another_part_traps(#[case] engine: EngineKind) -> Result<()> {
    for (field, at) in [
        (LAST_READ, DATA + 8),
        (LAST_WRITE, DESCRIPTOR),
        (LAST_WRITE, READ_CELL + 2),
    ] {
        assert_refill_rejected(
            engine,
            guest(),
            &[Step::Consume, Step::Store64(field, at.into())],
            Step::FILL,
            ErrorKind::BufferOverlap,
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Memory growth, traps and failing sources

/// Memory grown between refills is seen: a data area moved into the new page
/// receives the next chunks correctly.
#[apply(engines)]
fn growing_memory_between_refills_is_seen(#[case] engine: EngineKind) -> Result<()> {
    let moved = SIZE + 0x100;
    let guest = guest().with_entry(
        "grow",
        [
            Step::Consume,
            Step::FILL,
            Step::Consume,
            Step::Grow(1),
            Step::Store64(START, moved),
            Step::Drain,
        ],
    );
    let mut instance = start(engine, &guest)?;
    let returned = instance.call_with_streams("grow", [generated(24, LEN)])?;
    assert_sunk(
        &instance,
        returned,
        &framed(24, LEN),
        "stream into grown memory",
    )?;
    assert_eq!(
        instance.memory_size(),
        SIZE as u64 + WASM_PAGE_SIZE,
        "{engine}"
    );
    let last = last_refill(LEN) as usize;
    let new = instance.read_memory(moved, last as u64)?;
    assert_bytes(
        &new,
        &payload(24, LEN)[LEN as usize - last..],
        "the grown area",
    );
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 25, LEN)?;
    assert_host_still_works(engine)
}

/// A data area moved into memory that was never grown makes the next refill
/// trap with `DataAreaOutOfBounds`.
#[apply(engines)]
fn data_area_in_memory_not_yet_grown_traps(#[case] engine: EngineKind) -> Result<()> {
    assert_refill_rejected(
        engine,
        guest(),
        &[Step::Consume, Step::Store64(START, SIZE + 0x100)],
        Step::FILL,
        ErrorKind::DataAreaOutOfBounds,
    )
}

/// A guest that traps after some refills fails the call with `Trap`; its
/// streams are released, so the same instance primes the same descriptor
/// again and streams a new payload whole.
#[apply(engines)]
fn guest_trap_mid_stream_releases_the_streams(#[case] engine: EngineKind) -> Result<()> {
    let guest = guest().with_entry(
        "crash",
        [
            Step::Consume,
            Step::FILL,
            Step::Consume,
            Step::FILL,
            Step::Consume,
            Step::Trap,
        ],
    );
    let mut instance = start(engine, &guest)?;
    let result = instance.call_with_streams("crash", [generated(26, LEN)]);
    assert_eq!(kind_of(result), ErrorKind::Trap, "{engine}");
    assert_eq!(instance.stats().fills, 2);
    assert_eq!(log(&instance, 2)?, [CHUNK, CHUNK]);
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 27, LEN)?;
    assert_eq!(instance.stats().streams, 2);
    assert_host_still_works(engine)
}

/// Generated bytes, failing with `SourceFailed` on read number `fail_at`.
struct FailingSource {
    inner: GeneratedSource,
    reads: u32,
    fail_at: u32,
}

impl FailingSource {
    fn boxed(seed: u64, len: u64, fail_at: u32) -> BoxedSource {
        Box::new(Self {
            inner: GeneratedSource::new(seed, len),
            reads: 0,
            fail_at,
        })
    }
}

impl StreamSource for FailingSource {
    fn total_len(&self) -> u64 {
        self.inner.total_len()
    }

    fn read_exact_into(&mut self, dst: &mut [u8]) -> Result<()> {
        self.reads += 1;
        if self.reads == self.fail_at {
            return Err(refill::Error::new(
                ErrorKind::SourceFailed,
                "the disk is on fire",
            ));
        }
        self.inner.read_exact_into(dst)
    }
}

/// A source failing on its third chunk traps the second refill with
/// `SourceFailed`; the cursors still show the previous chunk; the instance
/// then streams again.
#[apply(engines)]
fn source_failing_mid_stream_fails_the_call(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest())?;
    let result = instance.call_with_streams(DRAIN, [FailingSource::boxed(28, LEN, 3)]);
    assert_eq!(kind_of(result), ErrorKind::SourceFailed, "{engine}");
    assert_eq!(log(&instance, 1)?, [CHUNK], "{engine}: the refill before");
    assert_eq!(instance.stats().fills, 2);
    assert_eq!(u32_at(&instance, READ_CELL)?, CHUNK, "{engine}: read cell");
    assert_eq!(
        u32_at(&instance, WRITE_CELL)?,
        CHUNK,
        "{engine}: write cell"
    );
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 29, LEN)?;
    assert_host_still_works(engine)
}

/// A source failing on its first chunk fails priming with `SourceFailed`:
/// no stream, cursors not written.
#[apply(engines)]
fn source_failing_at_priming_fails_open_stream(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest())?;
    let result = instance.open_stream(FailingSource::boxed(30, LEN, 1), StreamOptions::new());
    assert_eq!(kind_of(result), ErrorKind::SourceFailed, "{engine}");
    assert_eq!(instance.stats().streams, 0);
    assert_eq!(
        u32_at(&instance, READ_CELL)?,
        CELL_SENTINEL,
        "{engine}: read cell"
    );
    assert_eq!(
        u32_at(&instance, WRITE_CELL)?,
        CELL_SENTINEL,
        "{engine}: write cell"
    );
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 31, LEN)?;
    assert_host_still_works(engine)
}

/// A reader with more bytes than it declared.
fn overlong(seed: u64, len: u64) -> BoxedSource {
    let mut bytes = payload(seed, len);
    bytes.extend_from_slice(b"extra");
    Box::new(ReaderSource::new(Cursor::new(bytes), len))
}

/// A reader-backed source with bytes beyond its declared length traps the
/// refill that delivers the last declared byte with `SourceOverlong`: the
/// last chunk is written, its cursors are not.
#[apply(engines)]
fn overlong_source_fails_at_its_last_refill(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest())?;
    let result = instance.call_with_streams(DRAIN, [overlong(32, LEN)]);
    assert_eq!(kind_of(result), ErrorKind::SourceOverlong, "{engine}");
    let last = last_refill(LEN) as usize;
    let written = instance.read_memory(DATA.into(), last as u64)?;
    assert_bytes(
        &written,
        &payload(32, LEN)[LEN as usize - last..],
        "the last chunk",
    );
    assert_eq!(u32_at(&instance, READ_CELL)?, CHUNK, "{engine}: read cell");
    assert_eq!(
        u32_at(&instance, WRITE_CELL)?,
        CHUNK,
        "{engine}: write cell"
    );
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 33, LEN)?;
    assert_host_still_works(engine)
}

/// An overlong source whose declared bytes fit the first chunk fails priming
/// with `SourceOverlong`: header and payload written, cursors not.
#[apply(engines)]
fn overlong_source_fails_at_priming(#[case] engine: EngineKind) -> Result<()> {
    let mut instance = start(engine, &guest())?;
    let result = instance.open_stream(overlong(34, 100), StreamOptions::new());
    assert_eq!(kind_of(result), ErrorKind::SourceOverlong, "{engine}");
    assert_eq!(instance.stats().streams, 0);
    let written = instance.read_memory(DATA.into(), 104)?;
    assert_bytes(&written, &framed(34, 100), "header and payload");
    assert_eq!(
        u32_at(&instance, READ_CELL)?,
        CELL_SENTINEL,
        "{engine}: read cell"
    );
    assert_eq!(
        u32_at(&instance, WRITE_CELL)?,
        CELL_SENTINEL,
        "{engine}: write cell"
    );
    assert_answers(&mut instance)?;
    assert_drains(&mut instance, 35, LEN)?;
    assert_host_still_works(engine)
}
