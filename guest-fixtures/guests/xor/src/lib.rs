//! Contract `xor`: streams a transformed copy of its input back out. Reads
//! its first argument chunk by chunk and writes each byte xor 0x5a to the
//! output stream of its second argument, in place in the output buffer, so
//! guest memory stays O(chunk) both ways; returns the bytes written.

use refill_core::guest::{StreamReader, StreamWriter};

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
            for (out, byte) in spare[..n].iter_mut().zip(&chunk[..n]) {
                *out = byte ^ KEY;
            }
            writer.commit(n).unwrap_or_else(|e| panic!("{e}"));
            chunk = &chunk[n..];
        }
    }
    writer.written() as i64
}
