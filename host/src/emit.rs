//! Embedding an artifact in firmware without a build script: an ELF relocatable object to
//! link, a C header to include, or a Rust snippet to paste (`whittle emit`).
//!
//! The ELF object holds the artifact in a section `.rodata.whittle` aligned to 16 bytes, with
//! two global data symbols: `<name>` (the artifact bytes, its size the artifact length) and
//! `<name>_len` (the length, little endian, in its own section `.rodata.<name>_len`: a 4-byte
//! `uint32_t` on 32-bit architectures (arm, riscv32) and an 8-byte `uint64_t` on 64-bit ones
//! (aarch64, x86_64), the width of `size_t` there).

use crate::targets::Target;
use object::write::{Object, StandardSegment, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope, elf,
};
use std::fmt::Write as _;
use std::str::FromStr;

/// Name of the section holding the artifact bytes in an emitted object.
pub const MODEL_SECTION: &str = ".rodata.whittle";
/// Alignment of the artifact bytes (what `whittle_runtime::Model::load` needs).
pub const MODEL_ALIGN: u64 = 16;

/// ARM ELF `e_flags`: EABI version 5, what arm-none-eabi GCC and rustc's thumb targets write.
pub const EF_ARM_EABI_VER5: u32 = 0x0500_0000;
/// ARM ELF `e_flags`: the hard-float procedure call standard (`-eabihf` targets).
pub const EF_ARM_ABI_FLOAT_HARD: u32 = 0x400;
/// RISC-V ELF `e_flags`: compressed instructions (RVC), soft-float ABI (float ABI bits 0).
pub const EF_RISCV_RVC_SOFT_FLOAT: u32 = 0x1;

/// What `whittle emit` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An ELF relocatable object (`.o`) to link into firmware.
    ElfObject,
    /// A C header defining the bytes as an aligned array.
    CHeader,
    /// A Rust snippet using `whittle_runtime::include_model!`.
    Rust,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "elf-object" => Ok(Format::ElfObject),
            "c-header" => Ok(Format::CHeader),
            "rust" => Ok(Format::Rust),
            _ => Err(format!(
                "unknown format '{s}'; expected elf-object, c-header or rust"
            )),
        }
    }
}

/// Architecture of an emitted ELF object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// 32-bit Arm (Cortex-M thumb targets), EM_ARM.
    Arm,
    /// 32-bit RISC-V, EM_RISCV.
    Riscv32,
    /// 64-bit Arm, EM_AARCH64.
    Aarch64,
    /// x86-64, EM_X86_64.
    X86_64,
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "arm" => Ok(Arch::Arm),
            "riscv32" => Ok(Arch::Riscv32),
            "aarch64" => Ok(Arch::Aarch64),
            "x86_64" => Ok(Arch::X86_64),
            _ => Err(format!(
                "unknown architecture '{s}'; expected arm, riscv32, aarch64 or x86_64"
            )),
        }
    }
}

impl Arch {
    /// Whether pointers (and `<name>_len`) are 8 bytes wide.
    pub fn is_64(self) -> bool {
        matches!(self, Arch::Aarch64 | Arch::X86_64)
    }

    /// The architecture of a target profile (from its triple, else its ISA); `None` for
    /// `generic` and anything unknown.
    pub fn of_target(target: &Target) -> Option<Arch> {
        let t = target.triple.as_str();
        let isa = target.isa.as_str();
        if t.starts_with("aarch64") || isa.starts_with("armv8-a") || isa.starts_with("armv9-a") {
            Some(Arch::Aarch64)
        } else if t.starts_with("thumb") || t.starts_with("arm") || isa.starts_with("armv") {
            Some(Arch::Arm)
        } else if t.starts_with("riscv32") || isa.starts_with("rv32") {
            Some(Arch::Riscv32)
        } else if t.starts_with("x86_64") || isa.starts_with("x86-64") {
            Some(Arch::X86_64)
        } else {
            None
        }
    }
}

/// How to build the ELF object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElfOptions {
    /// Target architecture.
    pub arch: Arch,
    /// Arm only: mark the object for the hard-float ABI (`EF_ARM_ABI_FLOAT_HARD`).
    pub hard_float: bool,
}

impl ElfOptions {
    /// The options a target profile implies: its architecture, and the hard-float ABI for
    /// `-eabihf` triples. `None` when the profile names no known architecture.
    pub fn for_target(target: &Target) -> Option<ElfOptions> {
        Arch::of_target(target).map(|arch| ElfOptions {
            arch,
            hard_float: arch == Arch::Arm && target.triple.ends_with("eabihf"),
        })
    }

    /// The ELF `e_flags` these options give.
    pub fn e_flags(&self) -> u32 {
        match self.arch {
            Arch::Arm if self.hard_float => EF_ARM_EABI_VER5 | EF_ARM_ABI_FLOAT_HARD,
            Arch::Arm => EF_ARM_EABI_VER5,
            Arch::Riscv32 => EF_RISCV_RVC_SOFT_FLOAT,
            Arch::Aarch64 | Arch::X86_64 => 0,
        }
    }
}

/// Whether `s` is a valid C (and ELF, and Rust) identifier: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A C identifier from a file name's stem: every other character becomes `_`, a leading
/// digit gets a `wtl_` prefix (`gesture-int8.wtl` -> `gesture_int8`, `3d.wtl` -> `wtl_3d`).
pub fn identifier_from_path(path: &std::path::Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut id: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if id.is_empty() {
        id = "model".into();
    } else if id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert_str(0, "wtl_");
    }
    id
}

/// An ELF relocatable object holding `artifact` as described in the module docs.
pub fn elf_object(artifact: &[u8], name: &str, opts: ElfOptions) -> Result<Vec<u8>, String> {
    if !is_identifier(name) {
        return Err(format!("symbol name '{name}' is not a valid C identifier"));
    }
    let len_bytes = if opts.arch.is_64() {
        (artifact.len() as u64).to_le_bytes().to_vec()
    } else {
        u32::try_from(artifact.len())
            .map_err(|_| {
                format!(
                    "artifact of {} bytes does not fit a 32-bit length",
                    artifact.len()
                )
            })?
            .to_le_bytes()
            .to_vec()
    };
    let architecture = match opts.arch {
        Arch::Arm => Architecture::Arm,
        Arch::Riscv32 => Architecture::Riscv32,
        Arch::Aarch64 => Architecture::Aarch64,
        Arch::X86_64 => Architecture::X86_64,
    };
    let mut obj = Object::new(BinaryFormat::Elf, architecture, Endianness::Little);
    obj.flags = object::FileFlags::Elf {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_flags: elf::FileFlags(opts.e_flags()),
    };
    let segment = obj.segment_name(StandardSegment::Data).to_vec();

    let data_section = obj.add_section(
        segment.clone(),
        MODEL_SECTION.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    let model_symbol = obj.add_symbol(global_data(name.as_bytes().to_vec()));
    obj.add_symbol_data(model_symbol, data_section, artifact, MODEL_ALIGN);

    let len_section = obj.add_section(
        segment,
        format!(".rodata.{name}_len").into_bytes(),
        SectionKind::ReadOnlyData,
    );
    let len_symbol = obj.add_symbol(global_data(format!("{name}_len").into_bytes()));
    obj.add_symbol_data(len_symbol, len_section, &len_bytes, len_bytes.len() as u64);

    // No executable stack: what GNU as writes, so GNU ld does not warn on Linux targets.
    let stack = obj.add_section(Vec::new(), b".note.GNU-stack".to_vec(), SectionKind::Other);
    obj.section_mut(stack).flags = SectionFlags::Elf {
        sh_type: elf::SHT_PROGBITS,
        sh_flags: elf::SectionFlags(0),
    };

    obj.write()
        .map_err(|e| format!("writing the ELF object: {e}"))
}

fn global_data(name: Vec<u8>) -> Symbol {
    Symbol {
        name,
        value: 0,
        size: 0,
        kind: SymbolKind::Data,
        // Global binding, default visibility (`Linkage` would make it hidden).
        scope: SymbolScope::Dynamic,
        weak: false,
        section: SymbolSection::Undefined,
        flags: SymbolFlags::None,
    }
}

/// Where an artifact came from, for the comments of the C header and the Rust snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// The artifact's target profile name.
    pub target: String,
    /// The arena the model needs, in bytes.
    pub arena_bytes: usize,
    /// The artifact file as the user named it.
    pub source: String,
}

/// A C header defining `static const uint8_t NAME[LEN]` aligned to 16, with
/// `#define NAME_UPPER_LEN LEN` and `#define NAME_UPPER_ARENA_BYTES ARENA`.
pub fn c_header(artifact: &[u8], name: &str, info: &ArtifactInfo) -> Result<String, String> {
    if !is_identifier(name) {
        return Err(format!("array name '{name}' is not a valid C identifier"));
    }
    let upper = name.to_ascii_uppercase();
    let guard = format!("WHITTLE_{upper}_H");
    let len = artifact.len();
    let mut s = String::with_capacity(len * 6 + 1024);
    let source = info.source.replace("*/", "* /");
    let target = info.target.replace("*/", "* /");
    let _ = writeln!(
        s,
        "/* Generated by {} from {source}.",
        crate::artifact::PRODUCER
    );
    let _ = writeln!(s, " * Target: {target}");
    let _ = writeln!(s, " * Arena: {} bytes", info.arena_bytes);
    let _ = writeln!(s, " * Artifact: {len} bytes */");
    let _ = writeln!(s, "#ifndef {guard}\n#define {guard}\n");
    let _ = writeln!(s, "#include <stdint.h>\n");
    let _ = writeln!(s, "#define {upper}_LEN {len}");
    let _ = writeln!(s, "#define {upper}_ARENA_BYTES {}\n", info.arena_bytes);
    let _ = writeln!(
        s,
        "static const uint8_t {name}[{len}] __attribute__((aligned(16))) = {{"
    );
    for chunk in artifact.chunks(16) {
        let line: Vec<String> = chunk.iter().map(|b| format!("0x{b:02x}")).collect();
        let _ = writeln!(s, "    {},", line.join(", "));
    }
    let _ = writeln!(s, "}};\n\n#endif /* {guard} */");
    Ok(s)
}

/// A Rust snippet: `pub static NAME_UPPER: &[u8] = whittle_runtime::include_model!(PATH);`
/// and `pub const NAME_UPPER_ARENA_BYTES: usize = ARENA;`. `include_model!` resolves a
/// relative `path` against the source file it is pasted in, as `include_bytes!` does.
pub fn rust_snippet(path: &str, name: &str, info: &ArtifactInfo) -> Result<String, String> {
    if !is_identifier(name) {
        return Err(format!(
            "static name '{name}' is not a valid Rust identifier"
        ));
    }
    let upper = name.to_ascii_uppercase();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Generated by {} from {} (target {}).",
        crate::artifact::PRODUCER,
        info.source.replace('\n', " "),
        info.target.replace('\n', " ")
    );
    let _ = writeln!(
        s,
        "/// The model artifact, 16-byte aligned: `whittle_runtime::Model::load({upper})` reads it in place."
    );
    let _ = writeln!(
        s,
        "pub static {upper}: &[u8] = whittle_runtime::include_model!({path:?});"
    );
    let _ = writeln!(
        s,
        "/// Bytes of arena the model needs (`AlignedArena::<{upper}_ARENA_BYTES>`)."
    );
    let _ = writeln!(
        s,
        "pub const {upper}_ARENA_BYTES: usize = {};",
        info.arena_bytes
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_from_file_names() {
        let id = |p: &str| identifier_from_path(std::path::Path::new(p));
        assert_eq!(id("models/gesture-int8.wtl"), "gesture_int8");
        assert_eq!(id("3d.model.wtl"), "wtl_3d_model");
        assert!(is_identifier(&id("a b.wtl")));
        assert!(!is_identifier("1abc") && !is_identifier("a-b") && !is_identifier(""));
    }

    #[test]
    fn profiles_give_architectures_and_float_abi() {
        let opts = |n: &str| ElfOptions::for_target(&Target::resolve(n).unwrap());
        assert_eq!(opts("cortex-m4f").unwrap().e_flags(), 0x0500_0400);
        assert_eq!(opts("cortex-m0plus").unwrap().e_flags(), 0x0500_0000);
        assert_eq!(opts("riscv32imac").unwrap().e_flags(), 0x1);
        assert_eq!(opts("aarch64-a53").unwrap().arch, Arch::Aarch64);
        assert_eq!(opts("x86_64-avx2").unwrap().arch, Arch::X86_64);
        assert_eq!(opts("generic"), None);
    }

    #[test]
    fn header_has_sixteen_bytes_a_line() {
        let info = ArtifactInfo {
            target: "generic".into(),
            arena_bytes: 64,
            source: "m.wtl".into(),
        };
        let h = c_header(&[7u8; 20], "m", &info).unwrap();
        assert!(h.contains("static const uint8_t m[20] __attribute__((aligned(16))) = {"));
        assert!(h.contains("#define M_LEN 20"));
        assert_eq!(h.matches("0x07").count(), 20);
        assert!(c_header(&[], "a-b", &info).is_err());
    }
}
