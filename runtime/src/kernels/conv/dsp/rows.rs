//! Consecutive input rows against one block of four widened filters in one assembly loop
//! ([`Dot::dot4_widened_rows`] for [`ArmDsp`](super::ArmDsp)): per row, the `SMLAD` loop of
//! `smlad_groups`, then the four sums requantized on the high-word path (`SMMLA`, `ASR`,
//! `SSAT`) and stored. The rows follow each other in memory (a pointwise layer's pixels, a
//! gathered block of windows), so the next row starts where the loop left the input pointer.
//!
//! [`Dot::dot4_widened_rows`]: super::super::dot::Dot::dot4_widened_rows

use super::super::dot::RowRun;
use crate::kernels::fixedpoint::{HighWord, Requant4};
use core::arch::asm;
use core::mem::offset_of;

/// What the loop reads and updates in memory.
#[repr(C)]
struct State {
    /// The accumulators' start (`LDM` into r0..r3).
    start: [i32; 4],
    requants: [HighWord; 4],
    words: *const u32,
    /// Bytes per row, a multiple of eight.
    len: usize,
    /// The current row and its first output.
    x: *const i8,
    out: *mut i8,
    out_step: usize,
    rows: usize,
}

/// See [`Dot::dot4_widened_rows`](super::super::dot::Dot::dot4_widened_rows); `false` when a
/// channel's requantization is not on the high-word path with int8's whole range, when a row's
/// length is not a multiple of eight, or (never, for the runs the kernels build) when the
/// operands are too short.
#[inline(always)]
pub(super) fn dot4_widened_rows(
    start: [i32; 4],
    x: &[i8],
    words: &[u32],
    run: &RowRun,
    requants: &Requant4,
    output: &mut [i8],
) -> bool {
    let Some(high) = requants.high_words() else {
        return false;
    };
    if run.rows == 0 || run.len == 0 || !run.len.is_multiple_of(8) {
        return false;
    }
    let reads = run.rows.checked_mul(run.len).is_some_and(|n| n <= x.len());
    let weights = run.len.checked_mul(2).is_some_and(|n| n <= words.len());
    let writes = (run.rows - 1)
        .checked_mul(run.out_step)
        .and_then(|o| o.checked_add(run.out)?.checked_add(4))
        .is_some_and(|end| end <= output.len());
    if !(reads && weights && writes) {
        return false;
    }
    let mut state = State {
        start,
        requants: *high,
        words: words.as_ptr(),
        len: run.len,
        x: x.as_ptr(),
        out: output.as_mut_ptr().wrapping_add(run.out),
        out_step: run.out_step,
        rows: run.rows,
    };
    // Per row: the start into r0..r3; per two groups of four values (lr walks the row up to
    // its end, kept on the stack; r11 walks the words) one load of four values, two
    // widenings, two four-word loads of widened weights and eight SMLADs, twice; then per
    // channel its multiplier, offset and shift (LDM into r4, r5, r8), SMMLA, ASR, SSAT and a
    // byte store. r11 holds the state between rows and is kept on the stack during the sums.
    // SAFETY: `state` outlives the block and r11 points at it. Row `r` reads `x[r * len..][..
    // len]`, inside `x` (`rows * len <= x.len()`), and the `2 * len` words of the block
    // (word-aligned, as LDM needs; `2 * len <= words.len()`); it writes four bytes at `out +
    // r * out_step`, inside `output` (checked above for the last row). The pushed words are
    // popped before the row's stores. Writes only `output`, `state` and the named registers;
    // r11 ends as it began. SMLAD and SSAT may set the Q flag, which nothing reads.
    unsafe {
        asm!(
            "2:",
            "ldm r11, {{r0, r1, r2, r3}}",
            "ldr lr, [r11, #{x}]",
            "ldr r4, [r11, #{len}]",
            "add r4, lr, r4",
            "push {{r4, r11}}",
            "ldr r11, [r11, #{words}]",
            "3:",
            smlad_group_into_r0_to_r3!(),
            smlad_group_into_r0_to_r3!(),
            "ldr r4, [sp]",
            "cmp lr, r4",
            "bne 3b",
            "pop {{r4, r11}}",
            "str lr, [r11, #{x}]",
            "ldr lr, [r11, #{out}]",
            "add r12, r11, #{requants}",
            requantize_and_store_r0_to_r3!(),
            "ldr r0, [r11, #{out_step}]",
            "add lr, lr, r0",
            "str lr, [r11, #{out}]",
            "ldr r0, [r11, #{rows}]",
            "subs r0, r0, #1",
            "str r0, [r11, #{rows}]",
            "bne 2b",
            x = const offset_of!(State, x),
            len = const offset_of!(State, len),
            words = const offset_of!(State, words),
            out = const offset_of!(State, out),
            requants = const offset_of!(State, requants),
            out_step = const offset_of!(State, out_step),
            rows = const offset_of!(State, rows),
            in("r11") &raw mut state,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r12") _,
            out("lr") _,
        );
    }
    true
}
