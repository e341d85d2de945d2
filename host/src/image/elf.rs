//! Reading the loadable segments of a linked ELF executable.
//!
//! The raw program headers are read (not `object::File`), since flashing needs neither
//! sections nor symbols: a stripped firmware is as good as one with debug information.

use super::{Arch, FlashImage, ImageError, Segment};
use object::LittleEndian;
use object::elf::{
    ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG, ET_CORE, ET_DYN, ET_EXEC, ET_NONE,
    ET_REL, FileHeader32, FileHeader64, FileType, PT_LOAD,
};
use object::read::elf::{FileHeader, ProgramHeader};

/// Offsets of the class and data encoding bytes in `e_ident`.
const EI_CLASS: usize = 4;
const EI_DATA: usize = 5;

/// The flash image of the ELF executable `bytes`.
pub(super) fn read(bytes: &[u8]) -> Result<FlashImage, ImageError> {
    if is_64(bytes)? {
        read_class::<FileHeader64<LittleEndian>>(bytes)
    } else {
        read_class::<FileHeader32<LittleEndian>>(bytes)
    }
}

/// The architecture of the linked executable `bytes` (`ET_EXEC`, or `ET_DYN` for
/// position-independent programs), from its header alone.
pub(super) fn executable_arch(bytes: &[u8]) -> Result<Arch, ImageError> {
    if is_64(bytes)? {
        arch_of::<FileHeader64<LittleEndian>>(bytes)
    } else {
        arch_of::<FileHeader32<LittleEndian>>(bytes)
    }
}

/// Checks the magic and the (little-endian) data encoding; whether the file is 64-bit.
fn is_64(bytes: &[u8]) -> Result<bool, ImageError> {
    if bytes.get(..ELFMAG.len()) != Some(&ELFMAG[..]) {
        return Err(ImageError::NotElf);
    }
    // Checked before parsing so a big-endian file is named as such, not as malformed.
    match bytes.get(EI_DATA).copied() {
        Some(d) if d == ELFDATA2LSB.0 => {}
        Some(d) if d == ELFDATA2MSB.0 => return Err(ImageError::BigEndian),
        other => return Err(malformed(format!("unknown data encoding {other:?}"))),
    }
    match bytes.get(EI_CLASS).copied() {
        Some(c) if c == ELFCLASS32.0 => Ok(false),
        Some(c) if c == ELFCLASS64.0 => Ok(true),
        other => Err(malformed(format!("unknown class {other:?}"))),
    }
}

/// [`executable_arch`] for one ELF class.
fn arch_of<Elf: FileHeader<Endian = LittleEndian>>(bytes: &[u8]) -> Result<Arch, ImageError> {
    let header = Elf::parse(bytes).map_err(|e| malformed(e.to_string()))?;
    match header.e_type(LittleEndian) {
        ET_EXEC | ET_DYN => {}
        ET_REL => return Err(ImageError::ObjectFile),
        other => return Err(ImageError::NotExecutable(type_name(other))),
    }
    Ok(Arch::from_machine(
        header.e_machine(LittleEndian).0,
        header.is_type_64(),
    ))
}

/// [`read`] for one ELF class.
fn read_class<Elf: FileHeader<Endian = LittleEndian>>(
    bytes: &[u8],
) -> Result<FlashImage, ImageError> {
    let header = Elf::parse(bytes).map_err(|e| malformed(e.to_string()))?;
    let endian = LittleEndian;
    match header.e_type(endian) {
        ET_EXEC => {}
        ET_REL => return Err(ImageError::ObjectFile),
        other => return Err(ImageError::NotExecutable(type_name(other))),
    }
    let is_64 = header.is_type_64();
    let arch = Arch::from_machine(header.e_machine(endian).0, is_64);
    let headers = header
        .program_headers(endian, bytes)
        .map_err(|e| malformed(e.to_string()))?;
    let mut segments = Vec::new();
    for ph in headers {
        let size: u64 = ph.p_filesz(endian).into();
        if ph.p_type(endian) != PT_LOAD || size == 0 {
            continue;
        }
        // The load address: where flash holds the bytes, which for `.data` differs from
        // where the program sees them (`p_vaddr`, in RAM).
        let address: u64 = ph.p_paddr(endian).into();
        let data = ph.data(endian, bytes).map_err(|()| {
            let offset: u64 = ph.p_offset(endian).into();
            malformed(format!(
                "the segment loaded at {address:#x} has {size} bytes at file offset {offset:#x}, \
                 past the end of the {}-byte file",
                bytes.len()
            ))
        })?;
        segments.push(Segment {
            address,
            data: data.to_vec(),
        });
    }
    FlashImage::new(segments, header.e_entry(endian).into(), arch, is_64)
}

fn malformed(reason: String) -> ImageError {
    ImageError::Malformed(reason)
}

/// `e_type` as its constant's name, for the error message.
fn type_name(e_type: FileType) -> String {
    match e_type {
        ET_NONE => "ET_NONE (no file type)".into(),
        ET_DYN => "ET_DYN (a shared library or position-independent executable)".into(),
        ET_CORE => "ET_CORE (a core dump)".into(),
        other => format!("{:#06x}", other.0),
    }
}
