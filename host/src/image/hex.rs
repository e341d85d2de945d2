//! Intel HEX (I32HEX): writing a flash image, and reading a file back to check it.
//!
//! A record is `:LLAAAATTDD..CC`: byte count, 16-bit offset, type, data and a checksum that
//! makes all its bytes sum to zero. Addresses are the upper 16 bits of the last extended
//! linear address record (type 04) followed by the offset.

use super::{FlashImage, ImageError};
use std::fmt::Write as _;

const DATA: u8 = 0x00;
const END_OF_FILE: u8 = 0x01;
const EXTENDED_LINEAR_ADDRESS: u8 = 0x04;
const START_LINEAR_ADDRESS: u8 = 0x05;
/// Bytes per data record: what most tools write, and every programmer reads.
const RECORD_BYTES: usize = 16;
/// Intel HEX addresses are 32 bits.
const LIMIT: u64 = 1 << 32;

/// `image` as I32HEX text, LF line endings.
pub(super) fn write(image: &FlashImage) -> Result<String, ImageError> {
    let entry =
        u32::try_from(image.entry()).map_err(|_| ImageError::EntryBeyondHexRange(image.entry()))?;
    let mut out = String::new();
    let mut upper = None;
    for segment in image.segments() {
        if segment.end() > LIMIT {
            return Err(ImageError::BeyondHexRange {
                start: segment.address,
                end: segment.end(),
            });
        }
        // Below 4 GiB: checked just above.
        let mut address = segment.address as u32;
        let mut rest = &segment.data[..];
        while !rest.is_empty() {
            let high = (address >> 16) as u16;
            if upper != Some(high) {
                record(&mut out, 0, EXTENDED_LINEAR_ADDRESS, &high.to_be_bytes());
                upper = Some(high);
            }
            // A record's offset is 16 bits: it must not run past the 64 KiB window.
            let to_boundary = 0x1_0000 - (address & 0xFFFF) as usize;
            let (chunk, tail) = rest.split_at(rest.len().min(RECORD_BYTES).min(to_boundary));
            record(&mut out, address as u16, DATA, chunk);
            // Wraps to 0 only after the last byte below 4 GiB, when `tail` is empty.
            address = address.wrapping_add(chunk.len() as u32);
            rest = tail;
        }
    }
    record(&mut out, 0, START_LINEAR_ADDRESS, &entry.to_be_bytes());
    record(&mut out, 0, END_OF_FILE, &[]);
    Ok(out)
}

/// Appends one record and its checksum (the two's complement of the byte sum).
fn record(out: &mut String, offset: u16, kind: u8, data: &[u8]) {
    // At most RECORD_BYTES or 4 bytes: fits the count byte.
    let head = [data.len() as u8, (offset >> 8) as u8, offset as u8, kind];
    let sum = head
        .iter()
        .chain(data)
        .fold(0u8, |sum, b| sum.wrapping_add(*b));
    out.push(':');
    for b in head.iter().chain(data) {
        let _ = write!(out, "{b:02X}");
    }
    let _ = writeln!(out, "{:02X}", sum.wrapping_neg());
}

/// An Intel HEX file read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedHex {
    /// The data as `(address, bytes)` runs in file order, consecutive records at consecutive
    /// addresses merged into one run.
    pub chunks: Vec<(u32, Vec<u8>)>,
    /// The start linear address (type 05 record), if there is one.
    pub start: Option<u32>,
}

/// Reads I32HEX `text` (LF or CRLF): data (00), end of file (01), extended linear address (04)
/// and start linear address (05) records, every checksum verified. Fails on any other record
/// type, on a missing end-of-file record, and on records after it.
pub fn parse_intel_hex(text: &str) -> Result<ParsedHex, ImageError> {
    let mut parsed = ParsedHex::default();
    let mut upper = 0u64;
    let mut ended = false;
    let mut lines = 0;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        lines = line_no;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let syntax = |reason: &str| ImageError::HexSyntax {
            line: line_no,
            reason: reason.to_string(),
        };
        if ended {
            return Err(syntax("a record after the end-of-file record"));
        }
        let bytes = decode(line)
            .ok_or_else(|| syntax("not a record: ':' followed by an even number of hex digits"))?;
        let [
            count,
            offset_high,
            offset_low,
            kind,
            ref data @ ..,
            checksum,
        ] = bytes[..]
        else {
            return Err(syntax("a record has at least 5 bytes"));
        };
        if data.len() != usize::from(count) {
            return Err(syntax(&format!(
                "the byte count says {count} bytes, the record holds {}",
                data.len()
            )));
        }
        let sum = bytes[..bytes.len() - 1]
            .iter()
            .fold(0u8, |sum, b| sum.wrapping_add(*b));
        if sum.wrapping_neg() != checksum {
            return Err(ImageError::HexChecksum {
                line: line_no,
                found: checksum,
                expected: sum.wrapping_neg(),
            });
        }
        match (kind, data) {
            (DATA, _) => {
                let offset = u64::from(u16::from_be_bytes([offset_high, offset_low]));
                let address = upper + offset;
                if address + data.len() as u64 > LIMIT {
                    return Err(syntax("data beyond 4 GiB"));
                }
                // Below 4 GiB: checked just above.
                push(&mut parsed.chunks, address as u32, data);
            }
            (END_OF_FILE, []) => ended = true,
            (EXTENDED_LINEAR_ADDRESS, &[high, low]) => {
                upper = u64::from(u16::from_be_bytes([high, low])) << 16;
            }
            (START_LINEAR_ADDRESS, &[a, b, c, d]) => {
                parsed.start = Some(u32::from_be_bytes([a, b, c, d]));
            }
            (END_OF_FILE | EXTENDED_LINEAR_ADDRESS | START_LINEAR_ADDRESS, _) => {
                return Err(syntax(&format!(
                    "a type {kind:02X} record with {count} data bytes"
                )));
            }
            _ => {
                return Err(syntax(&format!(
                    "record type {kind:02X} is not supported (only 00, 01, 04 and 05)"
                )));
            }
        }
    }
    if !ended {
        return Err(ImageError::HexSyntax {
            line: lines + 1,
            reason: "no end-of-file record".into(),
        });
    }
    Ok(parsed)
}

/// The bytes of a record line (`:` then hex digit pairs), `None` if it is not one.
fn decode(line: &str) -> Option<Vec<u8>> {
    let digits = line.strip_prefix(':')?.as_bytes();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// Adds `data` at `address` to `chunks`, extending the last run if it ends there.
fn push(chunks: &mut Vec<(u32, Vec<u8>)>, address: u32, data: &[u8]) {
    if let Some((start, bytes)) = chunks.last_mut()
        && u64::from(*start) + bytes.len() as u64 == u64::from(address)
    {
        bytes.extend_from_slice(data);
        return;
    }
    chunks.push((address, data.to_vec()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Arch, Segment};

    fn image(address: u64, data: Vec<u8>, entry: u64) -> FlashImage {
        FlashImage::new(vec![Segment { address, data }], entry, Arch::Arm, false)
            .expect("a valid image")
    }

    #[test]
    fn writes_the_records_across_a_64k_boundary() {
        // Checksums computed independently (Python) for this image.
        let hex = image(0x1_FFF8, (0..20).collect(), 0x1_FFF9)
            .to_intel_hex()
            .expect("below 4 GiB");
        let expected = ":020000040001F9\n\
                        :08FFF8000001020304050607E5\n\
                        :020000040002F8\n\
                        :0C00000008090A0B0C0D0E0F1011121352\n\
                        :040000050001FFF9FE\n\
                        :00000001FF\n";
        assert_eq!(hex, expected);
    }

    #[test]
    fn splits_data_into_16_byte_records() {
        let data: Vec<u8> = (0..40).map(|i| i * 3).collect();
        let hex = image(0x0800_0000, data.clone(), 0)
            .to_intel_hex()
            .expect("hex");
        let counts: Vec<&str> = hex
            .lines()
            .filter(|l| &l[7..9] == "00")
            .map(|l| &l[1..3])
            .collect();
        assert_eq!(counts, ["10", "10", "08"]);
        let parsed = parse_intel_hex(&hex).expect("parse");
        assert_eq!(parsed.chunks, [(0x0800_0000, data)]);
        assert_eq!(parsed.start, Some(0));
    }

    #[test]
    fn parses_a_known_record() {
        // The example record of the Intel HEX article on Wikipedia.
        let parsed = parse_intel_hex(":0B0010006164647265737320676170A7\r\n:00000001FF\r\n")
            .expect("a valid file");
        assert_eq!(parsed.chunks, [(0x10, b"address gap".to_vec())]);
        assert_eq!(parsed.start, None);
    }

    #[test]
    fn rejects_a_wrong_checksum() {
        let err = parse_intel_hex(":0B0010006164647265737320676170A8\n:00000001FF\n");
        assert!(
            matches!(
                err,
                Err(ImageError::HexChecksum {
                    line: 1,
                    found: 0xA8,
                    expected: 0xA7
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn rejects_malformed_files() {
        for (text, line, reason) in [
            (":0B001000616464\n:00000001FF\n", 1, "byte count"),
            (
                "0B0010006164647265737320676170A7\n:00000001FF\n",
                1,
                "not a record",
            ),
            (":0G0000000000\n", 1, "not a record"),
            (":020000021000EC\n:00000001FF\n", 1, "type 02"),
            (":0B0010006164647265737320676170A7\n", 2, "no end-of-file"),
            (":00000001FF\n:00000001FF\n", 2, "after the end-of-file"),
        ] {
            match parse_intel_hex(text) {
                Err(ImageError::HexSyntax { line: l, reason: r }) => {
                    assert_eq!(l, line, "{text}: {r}");
                    assert!(r.contains(reason), "{text}: {r}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_addresses_beyond_4_gib() {
        let err = image(0xFFFF_FFF0, vec![0; 32], 0).to_intel_hex();
        assert!(
            matches!(
                err,
                Err(ImageError::BeyondHexRange {
                    start: 0xFFFF_FFF0,
                    end: 0x1_0000_0010
                })
            ),
            "{err:?}"
        );
        let err = image(0, vec![0; 4], 0x1_0000_0000).to_intel_hex();
        assert!(
            matches!(err, Err(ImageError::EntryBeyondHexRange(0x1_0000_0000))),
            "{err:?}"
        );
        // The last 16 bytes below 4 GiB are fine.
        let hex = image(0xFFFF_FFF0, vec![7; 16], 0)
            .to_intel_hex()
            .expect("hex");
        let parsed = parse_intel_hex(&hex).expect("parse");
        assert_eq!(parsed.chunks, [(0xFFFF_FFF0, vec![7; 16])]);
    }
}
