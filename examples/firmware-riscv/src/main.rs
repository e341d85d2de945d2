//! Runs a whittle model on QEMU's RISC-V `virt` board (RV32IMAC, machine mode): checks the
//! artifact's integrity (CRC-32 and SHA-256), runs the self-test of the vectors embedded in
//! the model, then every example input, printing each sample's class and the instructions per
//! inference (the `minstret` CSR) through semihosting; the last line is the verdict
//! (`self-test: PASS ...` or `self-test: FAIL ...`); exit status 0 on success and 1 on any
//! error, integrity or validation failure.
#![no_std]
#![no_main]

use core::fmt::Write;
use firmware_common::{Board, Console, NoPin, Stack, StaticArena};
use riscv::register::{mcause, minstret, mtval};
use riscv_rt::{TrapFrame, entry};

include!(concat!(env!("OUT_DIR"), "/arena.rs"));

/// The artifact (`WHITTLE_MODEL` at build time), 16-byte aligned.
static MODEL: &[u8] = whittle_runtime::include_model!(env!("WHITTLE_MODEL"));

/// The example inputs (`WHITTLE_INPUTS`): raw samples in the model's input type.
static INPUTS: &[u8] = include_bytes!(env!("WHITTLE_INPUTS"));

static ARENA: StaticArena<ARENA_BYTES> = StaticArena::new();

unsafe extern "C" {
    /// Lowest address the stack may grow to (the linker script's end of static data).
    static __estack: u8;
    /// Where the stack starts (its highest address).
    static _stack_start: u8;
}

#[entry]
fn main() -> ! {
    let stack = Stack::new(
        core::ptr::addr_of!(__estack),
        core::ptr::addr_of!(_stack_start),
    );
    stack.paint();
    firmware_common::boot(
        format_args!("board: virt (RV32IMAC); instructions from minstret"),
        Board {
            model: MODEL,
            inputs: INPUTS,
            arena: ARENA.take(),
            stack,
            counter: Some(minstret::read64),
            pin: NoPin,
        },
    )
}

/// Any exception (riscv-rt's default would spin forever): report it and exit with status 1.
// SAFETY: `ExceptionHandler` is defined nowhere else (riscv-rt's linker script only provides
// it weakly) and has the signature riscv-rt calls it with.
#[unsafe(export_name = "ExceptionHandler")]
extern "C" fn exception(_frame: &TrapFrame) -> ! {
    let mut out = Console::open();
    let _ = writeln!(
        out,
        "error: exception, mcause {:#x}, mepc {:#010x}, mtval {:#x}",
        mcause::read().bits(),
        riscv::register::mepc::read(),
        mtval::read()
    );
    firmware_common::fail("fault", 1)
}
