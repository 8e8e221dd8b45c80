//! Contract `xor`: streams a transformed copy of its input back out. Reads
//! its first argument chunk by chunk and writes each byte xor 0x5a to the
//! output stream of its second argument, in place in the output buffer, so
//! guest memory stays O(chunk) both ways; returns the bytes written.
//! `xor_whole` is the baseline: it collects the whole transformed copy in
//! its memory and hands it back whole, as freenet's `update_state` does.

use core::sync::atomic::{AtomicU64, Ordering};

use refill_core::guest::{StreamReader, StreamWriter};

/// The record `xor_whole` returns the address of: `[ptr: u64 LE][len: u64
/// LE]` of its output (wasm32 is little-endian and `AtomicU64` is laid out
/// as `u64`).
static RECORD: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// [`KEY`] in every byte of a word.
const WORD_KEY: u64 = u64::from_ne_bytes([KEY; 8]);

/// `dst[i] = src[i] ^ KEY`, eight bytes at a time.
fn xor_into(dst: &mut [u8], src: &[u8]) {
    let mut dst_words = dst.chunks_exact_mut(8);
    let mut src_words = src.chunks_exact(8);
    for (d, s) in (&mut dst_words).zip(&mut src_words) {
        let word = u64::from_ne_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
        d.copy_from_slice(&(word ^ WORD_KEY).to_ne_bytes());
    }
    for (d, s) in dst_words
        .into_remainder()
        .iter_mut()
        .zip(src_words.remainder())
    {
        *d = s ^ KEY;
    }
}

/// `buf[i] ^= KEY`, eight bytes at a time.
fn xor_in_place(buf: &mut [u8]) {
    let mut words = buf.chunks_exact_mut(8);
    for w in &mut words {
        let word = u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        w.copy_from_slice(&(word ^ WORD_KEY).to_ne_bytes());
    }
    for byte in words.into_remainder() {
        *byte ^= KEY;
    }
}

/// The output of the last `xor_whole`, kept until the next call.
static mut LAST: Vec<u8> = Vec::new();

/// The byte every input byte is xored with.
const KEY: u8 = 0x5a;

/// `xor(input, output) -> bytes written`, as i64.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn xor(input: i64, output: i64) -> i64 {
    // SAFETY: `input` is the descriptor the host primed for this entry
    // point's first argument, allocated by `__frnt__initiate_buffer`; only
    // this reader reads it.
    let mut reader = unsafe { StreamReader::from_arg(input) }.unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: `output` is the descriptor the host opened as the output
    // stream of the second argument, allocated by `__frnt__initiate_buffer`;
    // only this writer writes it.
    let mut writer = unsafe { StreamWriter::from_arg(output) }.unwrap_or_else(|e| panic!("{e}"));
    while let Some(chunk) = reader.next_chunk().unwrap_or_else(|e| panic!("{e}")) {
        let mut chunk = chunk;
        while !chunk.is_empty() {
            let spare = writer.spare().unwrap_or_else(|e| panic!("{e}"));
            let n = spare.len().min(chunk.len());
            xor_into(&mut spare[..n], &chunk[..n]);
            writer.commit(n).unwrap_or_else(|e| panic!("{e}"));
            chunk = &chunk[n..];
        }
    }
    writer.written() as i64
}

/// `xor_whole(input) -> address` of the record `[ptr: u64][len: u64]` of
/// the whole transformed copy, held in guest memory until the next call.
// SAFETY: this contract's own export name; nothing else defines it.
#[unsafe(no_mangle)]
pub extern "C" fn xor_whole(input: i64) -> i64 {
    // SAFETY: as in `xor`: the host primed `input` for this argument.
    let mut reader = unsafe { StreamReader::from_arg(input) }.unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    reader
        .read_to_end_into(&mut out)
        .unwrap_or_else(|e| panic!("{e}"));
    xor_in_place(&mut out);
    RECORD[0].store(out.as_ptr().addr() as u64, Ordering::Relaxed);
    RECORD[1].store(out.len() as u64, Ordering::Relaxed);
    // SAFETY: a wasm guest runs one call at a time on one thread: nothing
    // else reads or writes `LAST` while this call replaces it.
    unsafe { *core::ptr::addr_of_mut!(LAST) = out };
    RECORD.as_ptr().addr() as i64
}
