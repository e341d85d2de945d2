//! Flash images of ELF executables written byte by byte here, so each header field is under
//! the test's control.

use super::*;

const EM_ARM: u16 = 40;
const EM_X86_64: u16 = 62;
const ET_REL: u16 = 1;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_LOAD: u32 = 1;
const PT_GNU_STACK: u32 = 0x6474_E551;

/// One program header and its file bytes.
struct Seg {
    p_type: u32,
    vaddr: u64,
    paddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

/// A `PT_LOAD` segment of `data` seen at `vaddr`, loaded at `paddr`.
fn load(vaddr: u64, paddr: u64, data: Vec<u8>) -> Seg {
    let memsz = data.len() as u64;
    Seg {
        p_type: PT_LOAD,
        vaddr,
        paddr,
        data,
        memsz,
    }
}

/// A little-endian ELF: header, program headers, then the segments' bytes in order.
fn elf(is_64: bool, e_type: u16, machine: u16, entry: u64, segs: &[Seg]) -> Vec<u8> {
    let word = |out: &mut Vec<u8>, v: u64| {
        if is_64 {
            out.extend(v.to_le_bytes());
        } else {
            out.extend(u32::try_from(v).expect("a 32-bit value").to_le_bytes());
        }
    };
    let (ehsize, phentsize, shentsize): (u16, u16, u16) =
        if is_64 { (64, 56, 64) } else { (52, 32, 40) };
    let mut out = vec![0x7F, b'E', b'L', b'F', 1 + u8::from(is_64), 1, 1, 0];
    out.extend([0; 8]);
    out.extend(e_type.to_le_bytes());
    out.extend(machine.to_le_bytes());
    out.extend(1u32.to_le_bytes()); // e_version
    word(&mut out, entry);
    word(&mut out, u64::from(ehsize)); // e_phoff: right after the header
    word(&mut out, 0); // e_shoff: no sections
    out.extend(0u32.to_le_bytes()); // e_flags
    for half in [ehsize, phentsize, segs.len() as u16, shentsize, 0, 0] {
        out.extend(half.to_le_bytes());
    }
    assert_eq!(out.len(), usize::from(ehsize));
    let mut offset = u64::from(ehsize) + u64::from(phentsize) * segs.len() as u64;
    for s in segs {
        let (filesz, flags, align) = (s.data.len() as u64, 4u32, 4u64);
        out.extend(s.p_type.to_le_bytes());
        if is_64 {
            out.extend(flags.to_le_bytes());
        }
        for v in [offset, s.vaddr, s.paddr, filesz, s.memsz] {
            word(&mut out, v);
        }
        if !is_64 {
            out.extend(flags.to_le_bytes());
        }
        word(&mut out, align);
        offset += filesz;
    }
    for s in segs {
        out.extend(&s.data);
    }
    out
}

/// `len` bytes, none of them 0xFF, different from segment to segment by `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u8).wrapping_mul(7) % 0xF0) ^ seed)
        .collect()
}

const TEXT_AT: u64 = 0x0800_FFF0;
const DATA_LMA: u64 = 0x0801_0100;
const DATA_VMA: u64 = 0x2000_0000;
const ENTRY: u64 = 0x0800_FFF1;

/// A Cortex-M-like firmware: `.text` crossing the 64 KiB boundary at 0x0801_0000, a gap,
/// `.data` loaded after it in flash but seen in RAM, `.bss` (no file bytes) and a
/// `PT_GNU_STACK`; the program headers not in address order.
fn firmware() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let (text, data) = (pattern(0x30, 0x01), pattern(0x10, 0x02));
    let mut bss = load(DATA_VMA + 0x10, DATA_VMA + 0x10, Vec::new());
    bss.memsz = 0x100;
    let mut stack = load(0, 0, Vec::new());
    stack.p_type = PT_GNU_STACK;
    let segs = [
        load(DATA_VMA, DATA_LMA, data.clone()),
        load(TEXT_AT, TEXT_AT, text.clone()),
        bss,
        stack,
    ];
    (elf(false, ET_EXEC, EM_ARM, ENTRY, &segs), text, data)
}

#[test]
fn reads_segments_at_their_load_addresses() {
    let (bytes, text, data) = firmware();
    let image = FlashImage::from_elf(&bytes).expect("a valid firmware");
    assert_eq!(image.arch(), Arch::Arm);
    assert!(!image.is_64bit());
    assert_eq!(image.entry(), ENTRY);
    let expected = [
        Segment {
            address: TEXT_AT,
            data: text,
        },
        Segment {
            address: DATA_LMA,
            data,
        },
    ];
    assert_eq!(image.segments(), expected);
    assert_eq!(image.base_address(), TEXT_AT);
    assert_eq!(image.end_address(), DATA_LMA + 0x10);
}

#[test]
fn bin_fills_gaps_with_erased_flash() {
    let (bytes, text, data) = firmware();
    let bin = FlashImage::from_elf(&bytes).expect("valid").to_bin();
    assert_eq!(bin.len() as u64, DATA_LMA + 0x10 - TEXT_AT);
    let data_at = (DATA_LMA - TEXT_AT) as usize;
    assert_eq!(bin[..text.len()], text);
    assert!(bin[text.len()..data_at].iter().all(|&b| b == 0xFF));
    assert_eq!(bin[data_at..], data);
}

#[test]
fn hex_round_trips_with_the_entry_point() {
    let (bytes, text, data) = firmware();
    let hex = FlashImage::from_elf(&bytes)
        .expect("valid")
        .to_intel_hex()
        .expect("below 4 GiB");
    assert!(!hex.contains('\r'), "LF line endings");
    let parsed = parse_intel_hex(&hex).expect("our own output parses");
    // `.text` is one run although split at 0x0801_0000; the gap is not written.
    assert_eq!(
        parsed.chunks,
        [(TEXT_AT as u32, text), (DATA_LMA as u32, data)]
    );
    assert_eq!(parsed.start, Some(ENTRY as u32));
    // Data records stay inside their 64 KiB window, after a type 04 record for it.
    let mut upper = None;
    let mut windows = Vec::new();
    for line in hex.lines() {
        let field = |at: usize, len: usize| u32::from_str_radix(&line[at..at + len], 16);
        let (count, offset, kind) = (field(1, 2), field(3, 4), &line[7..9]);
        match kind {
            "04" => {
                upper = Some(field(9, 4).expect("hex"));
                windows.push(upper);
            }
            "00" => {
                let (count, offset) = (count.expect("hex"), offset.expect("hex"));
                assert!(upper.is_some(), "data before a type 04 record: {line}");
                assert!(count <= 16 && offset + count <= 0x1_0000, "{line}");
            }
            _ => {}
        }
    }
    assert_eq!(windows, [Some(0x0800), Some(0x0801)]);
}

#[test]
fn reads_a_64_bit_executable() {
    let segs = [load(0x40_0000, 0x40_0000, pattern(8, 3))];
    let bytes = elf(true, ET_EXEC, EM_X86_64, 0x40_0004, &segs);
    let image = FlashImage::from_elf(&bytes).expect("valid");
    assert_eq!((image.arch(), image.is_64bit()), (Arch::X86_64, true));
    assert_eq!(image.to_bin(), pattern(8, 3));
    // Above 4 GiB a .bin is still possible, an Intel HEX file is not.
    let segs = [load(0x1_0000_0000, 0x1_0000_0000, pattern(8, 3))];
    let image = FlashImage::from_elf(&elf(true, ET_EXEC, EM_X86_64, 0, &segs)).expect("valid");
    assert_eq!(image.base_address(), 0x1_0000_0000);
    let err = image.to_intel_hex().expect_err("beyond 4 GiB");
    assert!(
        err.to_string().contains("0x100000000..0x100000008"),
        "{err}"
    );
}

/// The error of `bytes`, its message checked to contain each of `words`.
fn error_of(bytes: &[u8], words: &[&str]) -> ImageError {
    let err = FlashImage::from_elf(bytes).expect_err("an invalid ELF");
    let message = err.to_string();
    for word in words {
        assert!(message.contains(word), "'{message}' does not say '{word}'");
    }
    err
}

#[test]
fn rejects_what_is_not_a_linked_little_endian_elf() {
    let (bytes, _, _) = firmware();
    let err = error_of(b"", &["not an ELF"]);
    assert!(matches!(err, ImageError::NotElf));
    assert!(matches!(
        error_of(b"MZ\x90\x00 a PE file", &["magic"]),
        ImageError::NotElf
    ));
    // Cut inside the program headers, then inside the segment data.
    assert!(matches!(
        error_of(&bytes[..60], &["truncated"]),
        ImageError::Malformed(_)
    ));
    let err = error_of(&bytes[..bytes.len() - 4], &["0x800fff0", "past the end"]);
    assert!(matches!(err, ImageError::Malformed(_)));
    let mut big = bytes.clone();
    big[5] = 2; // EI_DATA = ELFDATA2MSB
    assert!(matches!(
        error_of(&big, &["big-endian"]),
        ImageError::BigEndian
    ));
    let object = elf(false, ET_REL, EM_ARM, 0, &[]);
    let err = error_of(&object, &["object file", "not a linked firmware"]);
    assert!(matches!(err, ImageError::ObjectFile));
    let segs = [load(0x1000, 0x1000, pattern(4, 0))];
    let shared = elf(true, ET_DYN, EM_X86_64, 0, &segs);
    assert!(matches!(
        error_of(&shared, &["ET_DYN"]),
        ImageError::NotExecutable(_)
    ));
}

#[test]
fn rejects_images_that_cannot_be_flashed() {
    let mut bss = load(0x2000_0000, 0x2000_0000, Vec::new());
    bss.memsz = 64;
    let empty = elf(false, ET_EXEC, EM_ARM, 0, &[bss]);
    assert!(matches!(
        error_of(&empty, &["no loadable segment"]),
        ImageError::NoLoadableSegment
    ));
    // `.data` given the load address of `.text`'s last bytes.
    let segs = [
        load(0x1000, 0x1000, pattern(0x100, 1)),
        load(0x2000_0000, 0x10F0, pattern(0x20, 2)),
    ];
    let err = error_of(
        &elf(false, ET_EXEC, EM_ARM, 0, &segs),
        &["overlap", "0x1000..0x1100", "0x10f0..0x1110"],
    );
    assert!(matches!(err, ImageError::Overlap { .. }));
    let segs = [
        load(0, 0, pattern(4, 1)),
        load(0xF000_0000, 0xF000_0000, pattern(4, 2)),
    ];
    let err = error_of(
        &elf(false, ET_EXEC, EM_ARM, 0, &segs),
        &["0x0 ", "0xf0000004", "4026531844 bytes"],
    );
    assert!(matches!(err, ImageError::SpanTooLarge { .. }));
    // Exactly MAX_SPAN is allowed (the .bin is not built here).
    let segs = [
        load(0, 0, pattern(4, 1)),
        load(MAX_SPAN - 4, MAX_SPAN - 4, pattern(4, 2)),
    ];
    let image = FlashImage::from_elf(&elf(false, ET_EXEC, EM_ARM, 0, &segs)).expect("valid");
    assert_eq!(image.end_address() - image.base_address(), MAX_SPAN);
}

#[test]
fn arch_of_the_machine_and_class() {
    assert_eq!(Arch::from_machine(40, false), Arch::Arm);
    assert_eq!(Arch::from_machine(243, false), Arch::RiscV32);
    assert_eq!(Arch::from_machine(243, true), Arch::RiscV64);
    assert_eq!(Arch::from_machine(183, true), Arch::Aarch64);
    assert_eq!(Arch::from_machine(62, true), Arch::X86_64);
    // ILP32 AArch64 and x32 do not run on the 64-bit targets.
    assert_eq!(Arch::from_machine(183, false), Arch::Other(183));
    assert_eq!(Arch::from_machine(62, false), Arch::Other(62));
    assert_eq!(Arch::from_machine(8, false).to_string(), "e_machine 8");
    assert_eq!(Arch::RiscV32.to_string(), "riscv32");
}

#[test]
fn arch_matches_rust_triples() {
    let triples = [
        "thumbv6m-none-eabi",
        "thumbv7em-none-eabihf",
        "thumbv8m.main-none-eabihf",
        "armv7-unknown-linux-gnueabihf",
        "riscv32imac-unknown-none-elf",
        "riscv64gc-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-unknown-linux-gnu",
        "armebv7r-none-eabi",
        "aarch64_be-unknown-linux-gnu",
        "arm64_32-apple-watchos",
        "i686-unknown-linux-gnu",
    ];
    let matching = |arch: Arch| -> Vec<&str> {
        triples
            .into_iter()
            .filter(|t| arch.matches_triple(t))
            .collect()
    };
    assert_eq!(
        matching(Arch::Arm),
        [
            "thumbv6m-none-eabi",
            "thumbv7em-none-eabihf",
            "thumbv8m.main-none-eabihf",
            "armv7-unknown-linux-gnueabihf"
        ]
    );
    assert_eq!(matching(Arch::RiscV32), ["riscv32imac-unknown-none-elf"]);
    assert_eq!(matching(Arch::RiscV64), ["riscv64gc-unknown-linux-gnu"]);
    assert_eq!(matching(Arch::Aarch64), ["aarch64-unknown-linux-gnu"]);
    assert_eq!(matching(Arch::X86_64), ["x86_64-unknown-linux-gnu"]);
    assert!(matching(Arch::Other(3)).is_empty());
}
