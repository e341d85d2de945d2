//! Runs a whittle model on QEMU's `mps2-an385` board (Cortex-M3, no FPU): checks the artifact's
//! integrity (CRC-32 and SHA-256), runs the self-test of the vectors embedded in the model,
//! then every example input, printing each sample's class and the instructions per inference
//! through semihosting. LED0 of the FPGA IO block is the pass/fail line and the last line is
//! the verdict (`self-test: PASS ...` or `self-test: FAIL ...`); exit status 0 on success and
//! 1 on any error, integrity or validation failure.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmware_common::{Board, Stack, StaticArena, fpgaio, systick};

include!(concat!(env!("OUT_DIR"), "/arena.rs"));

/// The artifact (`WHITTLE_MODEL` at build time), 16-byte aligned.
static MODEL: &[u8] = whittle_runtime::include_model!(env!("WHITTLE_MODEL"));

/// The example inputs (`WHITTLE_INPUTS`): raw samples in the model's input type.
static INPUTS: &[u8] = include_bytes!(env!("WHITTLE_INPUTS"));

static ARENA: StaticArena<ARENA_BYTES> = StaticArena::new();

unsafe extern "C" {
    /// Lowest address the stack may grow to (the linker script's end of static data).
    static _stack_end: u8;
    /// Where the stack starts (its highest address).
    static _stack_start: u8;
}

#[entry]
fn main() -> ! {
    let stack = Stack::new(
        core::ptr::addr_of!(_stack_end),
        core::ptr::addr_of!(_stack_start),
    );
    stack.paint();
    firmware_common::boot(
        format_args!(
            "board: mps2-an385 (Cortex-M3); instructions = SysTick ticks x {} (-icount shift=0)",
            systick::INSTRUCTIONS_PER_TICK
        ),
        Board {
            model: MODEL,
            inputs: INPUTS,
            arena: ARENA.take(),
            stack,
            counter: systick::start().map(|()| systick::instructions),
            pin: fpgaio::Led0::new(),
        },
    )
}
