//! The fixed 32-byte little-endian preamble at the start of every artifact.

use super::{FORMAT_VERSION, KNOWN_FLAGS};
use crate::LoadError;

/// The eight bytes every artifact starts with. The high-bit first byte and the CR/LF/^Z bytes
/// catch artifacts mangled by text-mode transfers.
pub const MAGIC: [u8; 8] = *b"\x89WTL\r\n\x1a\n";
/// Size of the preamble in bytes.
pub const PREAMBLE_LEN: usize = 32;

/// The decoded preamble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    /// Format version ([`FORMAT_VERSION`] for artifacts this crate writes).
    pub format_version: u32,
    /// Flag bits: [`super::FLAG_SHA256`]; other bits are refused.
    pub flags: u32,
    /// Length of the postcard header that follows the preamble.
    pub header_len: u32,
    /// Offset of the weight blob from the artifact start (16-byte aligned).
    pub weights_offset: u32,
    /// Length of the weight blob.
    pub weights_len: u32,
    /// Length of the whole artifact, CRC trailer included.
    pub total_len: u32,
}

impl Preamble {
    /// Reads the preamble; checks the magic, the version and the flags, not the lengths.
    pub fn parse(bytes: &[u8]) -> Result<Self, LoadError> {
        let Some(head) = bytes.get(..PREAMBLE_LEN) else {
            return Err(LoadError::Truncated {
                needed: PREAMBLE_LEN as u32,
                got: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            });
        };
        if head[..8] != MAGIC {
            return Err(LoadError::BadMagic);
        }
        let word = |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let preamble = Preamble {
            format_version: word(8),
            flags: word(12),
            header_len: word(16),
            weights_offset: word(20),
            weights_len: word(24),
            total_len: word(28),
        };
        if preamble.format_version != FORMAT_VERSION {
            return Err(LoadError::UnsupportedVersion {
                found: preamble.format_version,
                supported: FORMAT_VERSION,
            });
        }
        if preamble.flags & !KNOWN_FLAGS != 0 {
            return Err(LoadError::UnsupportedFlags {
                found: preamble.flags,
            });
        }
        Ok(preamble)
    }

    /// The 32 bytes of this preamble.
    pub fn to_bytes(&self) -> [u8; PREAMBLE_LEN] {
        let mut out = [0u8; PREAMBLE_LEN];
        out[..8].copy_from_slice(&MAGIC);
        let words = [
            self.format_version,
            self.flags,
            self.header_len,
            self.weights_offset,
            self.weights_len,
            self.total_len,
        ];
        for (chunk, word) in out[8..].chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }
}
