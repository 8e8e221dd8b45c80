//! The names and sizes fixed by the streaming refill ABI (wire-compatible with
//! freenet-stdlib 0.12). See `docs/protocol.md` for the byte diagrams.

/// Module name of the host import.
pub const IMPORT_MODULE: &str = "freenet_contract_io";
/// Host import `(i64 id, i64 buf_ptr) -> i32`: refill a buffer, return the
/// number of bytes written, 0 at end of stream.
pub const FILL_BUFFER: &str = "__frnt__fill_buffer";
/// Guest export `(i32 capacity) -> i64`: allocate a buffer, return the
/// address of its descriptor.
pub const INITIATE_BUFFER: &str = "__frnt__initiate_buffer";
/// Guest export `(i64) -> ()`: tell the guest its instance id.
pub const SET_ID: &str = "__frnt_set_id";
/// The linear memory export.
pub const MEMORY: &str = "memory";
/// Module name of refill's output import (refill's extension, not
/// freenet's).
pub const OUTPUT_MODULE: &str = "refill_io";
/// Host import `(i64 id, i64 buf_ptr) -> i32`: take the bytes between an
/// output buffer's cursors, set both to 0, return how many were taken.
pub const DRAIN_BUFFER: &str = "__refill__drain_buffer";

/// Size of the buffer descriptor in guest memory.
pub const DESCRIPTOR_LEN: u32 = 32;
/// Size of the `[total_len: u32 LE]` header that precedes the first chunk.
pub const HEADER_LEN: u32 = 4;
/// Size of a cursor cell (`u32` LE).
pub const CURSOR_LEN: u32 = 4;
/// The chunk size freenet uses, and refill's default.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// The smallest chunk size refill accepts: the header plus four payload bytes.
pub const MIN_CHUNK_SIZE: u32 = 8;
/// The largest chunk size refill accepts by default (1 GiB).
pub const MAX_CHUNK_SIZE: u32 = 1 << 30;
/// The size of a WebAssembly memory page.
pub const WASM_PAGE_SIZE: u64 = 64 * 1024;
/// The largest payload the header can announce.
pub const MAX_PAYLOAD_LEN: u64 = u32::MAX as u64;

/// The capacity the host requests from `__frnt__initiate_buffer` for a payload
/// of `total_len` bytes with chunks of `chunk_size`: `min(chunk, total + 4)`.
pub const fn requested_capacity(total_len: u32, chunk_size: u32) -> u32 {
    let whole = total_len as u64 + HEADER_LEN as u64;
    if whole < chunk_size as u64 {
        whole as u32
    } else {
        chunk_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_capacity_is_min_of_chunk_and_whole_payload() {
        assert_eq!(requested_capacity(0, DEFAULT_CHUNK_SIZE), 4);
        assert_eq!(requested_capacity(10, DEFAULT_CHUNK_SIZE), 14);
        assert_eq!(requested_capacity(65_532, 65_536), 65_536);
        assert_eq!(requested_capacity(u32::MAX, 65_536), 65_536);
    }
}
