//! The architecture of a firmware ELF, and whether it runs on a Rust target triple.

use object::elf::{EM_AARCH64, EM_ARM, EM_RISCV, EM_X86_64};
use std::fmt;

/// Instruction set family of an ELF executable (`e_machine` and its class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 32-bit Arm, Thumb included (EM_ARM, ELF32): Cortex-M and Cortex-A/R in AArch32.
    Arm,
    /// 32-bit RISC-V (EM_RISCV, ELF32).
    RiscV32,
    /// 64-bit RISC-V (EM_RISCV, ELF64).
    RiscV64,
    /// 64-bit Arm (EM_AARCH64, ELF64).
    Aarch64,
    /// x86-64 (EM_X86_64, ELF64).
    X86_64,
    /// Any other `e_machine`, or a known one in the other class (ILP32 AArch64, x32): such
    /// code does not run on the targets above, so it must not compare equal to them.
    Other(u16),
}

impl Arch {
    /// The architecture of an ELF with machine `e_machine`, ELF64 if `is_64`.
    pub fn from_machine(e_machine: u16, is_64: bool) -> Arch {
        match (object::elf::Machine(e_machine), is_64) {
            (EM_ARM, false) => Arch::Arm,
            (EM_RISCV, false) => Arch::RiscV32,
            (EM_RISCV, true) => Arch::RiscV64,
            (EM_AARCH64, true) => Arch::Aarch64,
            (EM_X86_64, true) => Arch::X86_64,
            _ => Arch::Other(e_machine),
        }
    }

    /// Short name: `arm`, `riscv32`, `riscv64`, `aarch64`, `x86_64`, or `other`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Arm => "arm",
            Arch::RiscV32 => "riscv32",
            Arch::RiscV64 => "riscv64",
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
            Arch::Other(_) => "other",
        }
    }

    /// Whether code of this architecture runs on the Rust target `triple`
    /// (`thumbv7em-none-eabihf`, `riscv32imac-unknown-none-elf`, `aarch64-unknown-linux-gnu`...).
    ///
    /// Only the instruction set family is compared: an ELF does not say which extensions it
    /// uses (`thumbv6m` cannot run `thumbv7em` code) without reading its build attributes.
    /// Big-endian triples (`armebv7r`, `thumbeb`, `aarch64_be`) never match, as we only read
    /// little-endian ELFs.
    pub fn matches_triple(self, triple: &str) -> bool {
        let arch = triple.split('-').next().unwrap_or_default();
        match self {
            Arch::Arm => {
                (arch.starts_with("thumb") || arch.starts_with("arm"))
                    && !arch.starts_with("thumbeb")
                    && !arch.starts_with("armeb")
                    && !arch.starts_with("arm64")
            }
            Arch::RiscV32 => arch.starts_with("riscv32"),
            Arch::RiscV64 => arch.starts_with("riscv64"),
            Arch::Aarch64 => arch == "aarch64",
            Arch::X86_64 => arch == "x86_64" || arch == "x86_64h",
            Arch::Other(_) => false,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arch::Other(machine) => write!(f, "e_machine {machine}"),
            known => f.write_str(known.name()),
        }
    }
}
