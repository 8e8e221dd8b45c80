//! The 32-byte buffer descriptor ("BufferBuilder" in freenet-stdlib), decoded
//! from little-endian bytes; never by casting guest memory to a struct.
//!
//! ```text
//! offset  0        8          12        16           24           32
//!         | start  | capacity | padding | last_read  | last_write |
//!         | i64 LE | u32 LE   | 4 bytes | i64 LE     | i64 LE     |
//! ```

use crate::abi::DESCRIPTOR_LEN;

/// A decoded buffer descriptor. Addresses are kept as the guest wrote them
/// (signed 64-bit); [`crate::stream`] checks them before any use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BufferDescriptor {
    /// Guest address of the data area.
    pub start: i64,
    /// Size of the data area in bytes.
    pub capacity: u32,
    /// Guest address of the read cursor cell (`u32`).
    pub last_read: i64,
    /// Guest address of the write cursor cell (`u32`): bytes valid in the data area.
    pub last_write: i64,
}

/// The descriptor's bytes as they lie in guest memory.
pub type DescriptorBytes = [u8; DESCRIPTOR_LEN as usize];

impl BufferDescriptor {
    /// Decodes a descriptor from its 32 little-endian bytes. The padding is ignored.
    pub fn decode(bytes: &DescriptorBytes) -> Self {
        let i64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            i64::from_le_bytes(word)
        };
        let mut capacity = [0u8; 4];
        capacity.copy_from_slice(&bytes[8..12]);
        Self {
            start: i64_at(0),
            capacity: u32::from_le_bytes(capacity),
            last_read: i64_at(16),
            last_write: i64_at(24),
        }
    }

    /// Encodes the descriptor as its 32 little-endian bytes, padding zeroed.
    pub fn encode(&self) -> DescriptorBytes {
        let mut bytes = [0u8; DESCRIPTOR_LEN as usize];
        bytes[0..8].copy_from_slice(&self.start.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.capacity.to_le_bytes());
        bytes[16..24].copy_from_slice(&self.last_read.to_le_bytes());
        bytes[24..32].copy_from_slice(&self.last_write.to_le_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_fields_at_their_offsets() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0x10;
        bytes[8..12].copy_from_slice(&65_536u32.to_le_bytes());
        bytes[12..16].copy_from_slice(&[0xAA; 4]); // padding is ignored
        bytes[16..24].copy_from_slice(&0x2000i64.to_le_bytes());
        bytes[24..32].copy_from_slice(&(-1i64).to_le_bytes());
        let d = BufferDescriptor::decode(&bytes);
        assert_eq!(
            d,
            BufferDescriptor {
                start: 0x10,
                capacity: 65_536,
                last_read: 0x2000,
                last_write: -1
            }
        );
    }

    #[test]
    fn encode_then_decode_round_trips_and_zeroes_padding() {
        let d = BufferDescriptor {
            start: 0x1234_5678,
            capacity: 7,
            last_read: i64::MAX,
            last_write: i64::MIN,
        };
        let bytes = d.encode();
        assert_eq!(&bytes[12..16], &[0; 4]);
        assert_eq!(BufferDescriptor::decode(&bytes), d);
    }
}
