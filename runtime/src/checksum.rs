//! CRC-32 (IEEE 802.3, as zlib and PNG compute it) and SHA-256 over artifact bytes.

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 of `bytes` (the same value `zlib.crc32` gives).
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// SHA-256 of `bytes` (FIPS 180-4), as the artifact's digest stores it.
///
/// Runs the `sha2` compression function over the whole blocks and pads the last one here:
/// `sha2`'s buffered hasher keeps a position the optimizer cannot bound, which would leave
/// a reachable panic in [`crate::Model::load`] (docs/panic-free.md).
#[cfg(feature = "sha256")]
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut state: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    let mut compress = |block: &[u8; 64]| {
        sha2::compress256(&mut state, core::slice::from_ref(block.into()));
    };
    let (blocks, tail) = bytes.as_chunks::<64>();
    blocks.iter().for_each(&mut compress);
    // The tail (under 64 bytes), the 0x80 marker, zeros, then the message length in bits as
    // 64 big-endian bits: one block, or two when the tail leaves less than 9 bytes.
    let mut last = [[0u8; 64]; 2];
    for (to, &from) in last
        .as_flattened_mut()
        .iter_mut()
        .zip(tail.iter().chain(&[0x80]))
    {
        *to = from;
    }
    let used = if tail.len() < 56 { 1 } else { 2 };
    let bits = (bytes.len() as u64).wrapping_mul(8).to_be_bytes();
    if let Some((_, length)) = last
        .get_mut(used - 1)
        .and_then(|block| block.split_last_chunk_mut::<8>())
    {
        *length = bits;
    }
    last.iter().take(used).for_each(compress);
    let mut digest = [0u8; 32];
    for (out, word) in digest.as_chunks_mut::<4>().0.iter_mut().zip(state) {
        *out = word.to_be_bytes();
    }
    digest
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

    /// Every tail length around the one- and two-block padding boundaries, and several
    /// blocks, against the `sha2` crate's own hasher.
    #[cfg(feature = "sha256")]
    #[test]
    fn sha256_matches_the_buffered_hasher_for_every_padding() {
        use sha2::Digest;
        let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for len in (0..=130).chain([191, 192, 193, 255, 256, 300]) {
            let expected: [u8; 32] = sha2::Sha256::digest(&data[..len]).into();
            assert_eq!(super::sha256(&data[..len]), expected, "{len} bytes");
        }
    }
}
