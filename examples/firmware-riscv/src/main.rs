//! Runs a whittle model on QEMU's RISC-V `virt` board (RV32IMAC, machine mode): every example
//! input through the model, each sample's class and the instructions per inference (the
//! `minstret` CSR) printed through semihosting, exit status 0 on success and 1 on any error.
#![no_std]
#![no_main]

use core::fmt::Write;
use firmware_common::{Console, Error, StaticArena};
use riscv::register::{mcause, minstret, mtval};
use riscv_rt::{TrapFrame, entry};
use whittle_runtime::Model;

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
    let stack = firmware_common::Stack::new(
        core::ptr::addr_of!(__estack),
        core::ptr::addr_of!(_stack_start),
    );
    stack.paint();
    let mut out = Console::open();
    let result = firmware(&mut out);
    if result.is_ok() {
        let _ = writeln!(out, "stack high-water mark: {} bytes", stack.high_water());
    }
    firmware_common::finish(&mut out, result)
}

/// Loads the model, validates it against its embedded vectors, and runs every sample.
fn firmware(out: &mut Console) -> Result<(), Error> {
    writeln!(out, "board: virt (RV32IMAC); instructions from minstret")?;
    let model = Model::load(MODEL)?;
    let arena = ARENA.take().ok_or(Error::ArenaTaken)?;
    firmware_common::self_test(&model, arena, out, &mut minstret::read64)?;
    firmware_common::run(&model, INPUTS, arena, out, &mut minstret::read64)?;
    Ok(())
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
    firmware_common::exit(1)
}
