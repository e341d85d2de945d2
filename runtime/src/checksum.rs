//! CRC-32 (IEEE 802.3, as zlib and PNG compute it) and SHA-256 over artifact bytes.

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 of `bytes` (the same value `zlib.crc32` gives).
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// SHA-256 of `bytes` (FIPS 180-4), as the artifact's digest stores it.
#[cfg(feature = "sha256")]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_the_standard_check_value() {
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }

    #[cfg(feature = "sha256")]
    #[test]
    fn sha256_matches_the_fips_example() {
        let digest = super::sha256(b"abc");
        assert_eq!(digest[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(digest[28..], [0xf2, 0x00, 0x15, 0xad]);
    }
}
