//! Runs a whittle model on QEMU's `mps2-an386` board (Cortex-M4F): checks the artifact's
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
#[cfg(not(feature = "linked-model"))]
fn model_bytes() -> &'static [u8] {
    whittle_runtime::include_model!(env!("WHITTLE_MODEL"))
}

/// The artifact linked from the object `whittle emit` wrote (`WHITTLE_MODEL_OBJECT`).
#[cfg(feature = "linked-model")]
fn model_bytes() -> &'static [u8] {
    unsafe extern "C" {
        /// First byte of the artifact, in `.rodata.whittle`, 16-byte aligned.
        static whittle_model: u8;
        /// The artifact's length in bytes (a little-endian u32 on 32-bit targets).
        safe static whittle_model_len: u32;
    }
    // SAFETY: `whittle emit` defines `whittle_model` as the first of `whittle_model_len`
    // bytes of read-only data, linked into flash and never written.
    unsafe {
        core::slice::from_raw_parts(
            core::ptr::addr_of!(whittle_model),
            whittle_model_len as usize,
        )
    }
}

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
            "board: mps2-an386 (Cortex-M4F); instructions = SysTick ticks x {} (-icount shift=0)",
            systick::INSTRUCTIONS_PER_TICK
        ),
        Board {
            model: model_bytes(),
            inputs: INPUTS,
            arena: ARENA.take(),
            stack,
            counter: systick::start().map(|()| systick::instructions),
            pin: fpgaio::Led0::new(),
        },
    )
}
