//! Flashable images from a linked firmware ELF: a raw `.bin` and an Intel `.hex`.
//!
//! Factory stations flash with probe-rs, OpenOCD or vendor tools that take a raw binary or an
//! Intel HEX file rather than an ELF. The image is the ELF's `PT_LOAD` segments that hold file
//! bytes, each at its **physical** (load) address `p_paddr`: the initial values of `.data` are
//! stored in flash at their load address and copied to RAM (`p_vaddr`) by the startup code, so
//! the flash must receive them at `p_paddr`. Segments without file bytes (`.bss`, stacks) are
//! left out: nothing is flashed for them.
//!
//! - [`FlashImage::to_bin`]: the bytes from the lowest segment address to the end of the
//!   highest, gaps filled with `0xFF` (erased flash, so writing them changes nothing); it must
//!   be written at [`FlashImage::base_address`].
//! - [`FlashImage::to_intel_hex`]: I32HEX with LF line endings (every tool we know accepts LF,
//!   and it diffs cleanly); only segment bytes are written, so gaps are not programmed.
//! - [`parse_intel_hex`]: reads such a file back, checking every checksum.
//!
//! ```no_run
//! let elf = std::fs::read("firmware.elf")?;
//! let image = whittle::image::FlashImage::from_elf(&elf)?;
//! assert!(image.arch().matches_triple("thumbv7em-none-eabihf"));
//! std::fs::write("firmware.bin", image.to_bin())?;
//! std::fs::write("firmware.hex", image.to_intel_hex()?)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arch;
mod bin;
mod elf;
mod hex;
#[cfg(test)]
mod tests;

pub use arch::Arch;
pub use hex::{ParsedHex, parse_intel_hex};

/// Largest span from the lowest to the highest segment address an image may have (256 MiB):
/// the `.bin` is that large, so a hostile ELF with segments at 0 and 0xF000_0000 must not make
/// us allocate gigabytes. Real firmware spans a few MiB of flash.
pub const MAX_SPAN: u64 = 256 << 20;

/// Why an ELF cannot be turned into a flash image, or an Intel HEX file cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The file does not start with the ELF magic bytes.
    #[error("not an ELF file: it does not start with the ELF magic bytes 7F 45 4C 46")]
    NotElf,
    /// The ELF is truncated or its headers are inconsistent.
    #[error("truncated or malformed ELF file: {0}")]
    Malformed(String),
    /// The ELF is big-endian.
    #[error("the ELF file is big-endian; only little-endian firmware is supported")]
    BigEndian,
    /// The ELF is a relocatable object (`ET_REL`).
    #[error(
        "the ELF file is an object file (ET_REL), not a linked firmware: link it into an \
         executable first"
    )]
    ObjectFile,
    /// The ELF is neither an object file nor an executable (`ET_DYN`, `ET_CORE`, ...).
    #[error("the ELF file is not an executable (ET_EXEC): its type is {0}")]
    NotExecutable(String),
    /// No `PT_LOAD` segment holds file bytes.
    #[error("the ELF file has no loadable segment with file bytes (PT_LOAD with p_filesz > 0)")]
    NoLoadableSegment,
    /// A segment's end lies beyond the 64-bit address space.
    #[error("the segment at {address:#x} of {len} bytes runs past the end of the address space")]
    AddressOverflow {
        /// Load address of the segment.
        address: u64,
        /// Its size in bytes.
        len: u64,
    },
    /// Two segments share load addresses (ranges are end-exclusive).
    #[error(
        "segments overlap: {first_start:#x}..{first_end:#x} and {second_start:#x}..{second_end:#x}"
    )]
    Overlap {
        /// Start of the lower segment.
        first_start: u64,
        /// End (exclusive) of the lower segment.
        first_end: u64,
        /// Start of the segment that begins inside it.
        second_start: u64,
        /// End (exclusive) of that segment.
        second_end: u64,
    },
    /// The image spans more than [`MAX_SPAN`] bytes.
    #[error(
        "the segments span {span} bytes from {low:#x} to {high:#x}, more than the {MAX_SPAN}-byte \
         limit of a flash image"
    )]
    SpanTooLarge {
        /// Lowest segment address.
        low: u64,
        /// End (exclusive) of the highest segment.
        high: u64,
        /// `high - low`.
        span: u64,
    },
    /// A segment lies (partly) at or above 4 GiB, which Intel HEX cannot address.
    #[error("the segment {start:#x}..{end:#x} lies beyond 4 GiB, which Intel HEX cannot address")]
    BeyondHexRange {
        /// Start of the segment.
        start: u64,
        /// End (exclusive) of the segment.
        end: u64,
    },
    /// The entry point does not fit a start linear address record.
    #[error("the entry point {0:#x} lies beyond 4 GiB, which Intel HEX cannot hold")]
    EntryBeyondHexRange(u64),
    /// An Intel HEX line is not a valid record, or records are out of place.
    #[error("Intel HEX line {line}: {reason}")]
    HexSyntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// An Intel HEX record's checksum does not match its bytes.
    #[error(
        "Intel HEX line {line}: checksum {found:#04X}, but the record's bytes give {expected:#04X}"
    )]
    HexChecksum {
        /// 1-based line number.
        line: usize,
        /// The checksum in the file.
        found: u8,
        /// The checksum of the record's bytes.
        expected: u8,
    },
}

/// Bytes to flash at one load address: the file bytes of one `PT_LOAD` segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Load (physical) address of the first byte.
    pub address: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

impl Segment {
    /// Address one past the last byte.
    pub fn end(&self) -> u64 {
        self.address.saturating_add(self.data.len() as u64)
    }
}

/// What a linked firmware puts in flash: its loadable segments at their load addresses, its
/// entry point and architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashImage {
    /// Sorted by address, non-empty, not overlapping, spanning at most [`MAX_SPAN`].
    segments: Vec<Segment>,
    entry: u64,
    arch: Arch,
    is_64: bool,
}

/// The architecture of a linked little-endian ELF executable, from its header alone: a
/// firmware (`ET_EXEC`) or a Linux program, position-independent (`ET_DYN`) or not.
pub fn executable_arch(bytes: &[u8]) -> Result<Arch, ImageError> {
    elf::executable_arch(bytes)
}

impl FlashImage {
    /// Reads a linked little-endian ELF32 or ELF64 executable (`ET_EXEC`).
    pub fn from_elf(bytes: &[u8]) -> Result<FlashImage, ImageError> {
        elf::read(bytes)
    }

    /// Checks the invariants of an image made of `segments`, and sorts them.
    fn new(
        mut segments: Vec<Segment>,
        entry: u64,
        arch: Arch,
        is_64: bool,
    ) -> Result<FlashImage, ImageError> {
        for s in &segments {
            let len = s.data.len() as u64;
            if s.address.checked_add(len).is_none() {
                return Err(ImageError::AddressOverflow {
                    address: s.address,
                    len,
                });
            }
        }
        segments.sort_by_key(|s| s.address);
        for pair in segments.windows(2) {
            let [first, second] = pair else { continue };
            if second.address < first.end() {
                return Err(ImageError::Overlap {
                    first_start: first.address,
                    first_end: first.end(),
                    second_start: second.address,
                    second_end: second.end(),
                });
            }
        }
        let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
            return Err(ImageError::NoLoadableSegment);
        };
        // Sorted and disjoint: the last segment ends highest.
        let (low, high) = (first.address, last.end());
        if high - low > MAX_SPAN {
            return Err(ImageError::SpanTooLarge {
                low,
                high,
                span: high - low,
            });
        }
        Ok(FlashImage {
            segments,
            entry,
            arch,
            is_64,
        })
    }

    /// The segments, sorted by load address.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The entry point (`e_entry`); on Cortex-M the reset handler, with the Thumb bit set.
    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// The architecture the code is for.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Whether the ELF is ELF64 (else ELF32).
    pub fn is_64bit(&self) -> bool {
        self.is_64
    }

    /// The lowest load address: where the `.bin` must be written.
    pub fn base_address(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.address)
    }

    /// One past the highest loaded byte.
    pub fn end_address(&self) -> u64 {
        self.segments.last().map_or(0, Segment::end)
    }

    /// The raw image: bytes from [`Self::base_address`] to [`Self::end_address`], gaps
    /// between segments filled with `0xFF` (erased flash).
    pub fn to_bin(&self) -> Vec<u8> {
        bin::write(self)
    }

    /// The image as Intel HEX (I32HEX, LF line endings, uppercase): extended linear address
    /// records, data records of at most 16 bytes that never cross a 64 KiB boundary, only
    /// segment bytes (gaps are not written), the entry point as a start linear address record,
    /// and the end-of-file record. Fails if a segment or the entry lies beyond 4 GiB.
    pub fn to_intel_hex(&self) -> Result<String, ImageError> {
        hex::write(self)
    }
}
