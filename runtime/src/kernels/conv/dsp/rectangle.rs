//! A whole rectangle of depthwise windows in one assembly loop ([`Dot::mac_rectangle`]
//! for [`ArmDsp`](super::ArmDsp)): per window, the tap loop of `mac_window`, then the four
//! accumulators requantized on the high-word path (`SMMLA`, `ASR`, `SSAT`) and stored, then
//! the next window's base and output. Run per window from Rust, the index arithmetic, the
//! bounds checks and the requantization's parameter loads cost about as much as the taps.
//!
//! [`Dot::mac_rectangle`]: super::super::dot::Dot::mac_rectangle

use super::super::dot::{Rectangle, Tap};
use crate::kernels::fixedpoint::{HighWord, Requant4};
use core::arch::asm;
use core::mem::offset_of;

/// What the loop reads and updates in memory (its registers hold the taps' operands).
#[repr(C)]
struct State {
    /// The accumulators' start (`LDM` into r0..r3).
    start: [i32; 4],
    requants: [HighWord; 4],
    table: *const Tap,
    taps: usize,
    /// The current window's base and first output.
    base: *const i8,
    out: *mut i8,
    step: usize,
    out_step: usize,
    /// Added after a row's last window, on top of the step: `row_pitch - cols * step`
    /// (wrapping), and the same for the output.
    next_row: usize,
    next_out_row: usize,
    cols: usize,
    cols_left: usize,
    windows: usize,
}

/// See [`Dot::mac_rectangle`](super::super::dot::Dot::mac_rectangle); `false` when a channel's
/// requantization is not on the high-word path with int8's whole range, or (never, for the
/// rectangles the depthwise path builds) when a window would read or write out of bounds.
#[inline(always)]
pub(super) fn mac_rectangle(
    start: [i32; 4],
    input: &[i8],
    reach: usize,
    taps: &[Tap],
    rect: &Rectangle,
    requants: &Requant4,
    output: &mut [i8],
) -> bool {
    let Some(high) = requants.high_words() else {
        return false;
    };
    if taps.is_empty() || rect.rows == 0 || rect.cols == 0 {
        return false;
    }
    // The last window's base and output are the largest (the steps are not negative): when
    // they are in bounds, every window's are.
    let last = |first: usize, step: usize, pitch: usize| {
        (rect.cols - 1)
            .checked_mul(step)?
            .checked_add((rect.rows - 1).checked_mul(pitch)?)?
            .checked_add(first)
    };
    let reads = last(rect.base, rect.step, rect.row_pitch)
        .and_then(|b| b.checked_add(reach)?.checked_add(4))
        .is_some_and(|end| end <= input.len());
    let writes = last(rect.out, rect.out_step, rect.out_row_pitch)
        .and_then(|o| o.checked_add(4))
        .is_some_and(|end| end <= output.len());
    let windows = rect.rows.checked_mul(rect.cols);
    let (true, true, Some(windows)) = (reads, writes, windows) else {
        return false;
    };
    let mut state = State {
        start,
        requants: *high,
        table: taps.as_ptr(),
        taps: taps.len(),
        base: input.as_ptr().wrapping_add(rect.base),
        out: output.as_mut_ptr().wrapping_add(rect.out),
        step: rect.step,
        out_step: rect.out_step,
        next_row: rect
            .row_pitch
            .wrapping_sub(rect.cols.wrapping_mul(rect.step)),
        next_out_row: rect
            .out_row_pitch
            .wrapping_sub(rect.cols.wrapping_mul(rect.out_step)),
        cols: rect.cols,
        cols_left: rect.cols,
        windows,
    };
    // Per window: the start into r0..r3; per tap (r11 walks the table, r12 counts, lr is the
    // base) its offset and widened weights (one LDM), the four input values there, two
    // widenings and four 16x16 multiply-accumulates; then per channel its multiplier, offset and shift
    // (LDM into r4, r5, r8), SMMLA (the high word of the product plus the offset), ASR, SSAT
    // and a byte store; then the next window, moving to the next row after `cols` of them.
    // r11 holds the state between windows and is kept on the stack during the taps.
    // SAFETY: `state` outlives the block and r11 points at it; the table has `taps > 0`
    // entries of 12 word-aligned bytes (as LDM needs). Every window's base is at most the
    // last one's, whose `base + reach + 4 <= input.len()` was checked above, and every tap
    // reads one word at `base + offset` with `offset <= reach` (the caller's promise);
    // likewise every window writes four bytes at an output at most the last one's, which has
    // `out + 4 <= output.len()`. The pushed word is popped before the next window. Writes
    // only `output`, `state` and the named registers; r11 ends as it began. SMLAxy and SSAT
    // may set the Q flag, which nothing reads.
    unsafe {
        asm!(
            "2:",
            "ldm r11, {{r0, r1, r2, r3}}",
            "ldr lr, [r11, #{base}]",
            "ldr r12, [r11, #{taps}]",
            "push {{r11}}",
            "ldr r11, [r11, #{table}]",
            "3:",
            "ldm r11!, {{r4, r8, r10}}",
            "ldr r4, [lr, r4]",
            "sxtb16 r5, r4",
            "sxtb16 r4, r4, ror #8",
            "smlabb r0, r5, r8, r0",
            "smlabb r1, r4, r10, r1",
            "smlatt r2, r5, r8, r2",
            "smlatt r3, r4, r10, r3",
            "subs r12, r12, #1",
            "bne 3b",
            "pop {{r11}}",
            "ldr lr, [r11, #{out}]",
            "add r12, r11, #{requants}",
            requantize_and_store_r0_to_r3!(),
            // The next window: one step along the row, or past the row's end to the next.
            "ldr r0, [r11, #{out_step}]",
            "add lr, lr, r0",
            "ldr r1, [r11, #{base}]",
            "ldr r0, [r11, #{step}]",
            "add r1, r1, r0",
            "ldr r2, [r11, #{cols_left}]",
            "subs r2, r2, #1",
            "bne 4f",
            "ldr r0, [r11, #{next_row}]",
            "add r1, r1, r0",
            "ldr r0, [r11, #{next_out_row}]",
            "add lr, lr, r0",
            "ldr r2, [r11, #{cols}]",
            "4:",
            "str r2, [r11, #{cols_left}]",
            "str r1, [r11, #{base}]",
            "str lr, [r11, #{out}]",
            "ldr r0, [r11, #{windows}]",
            "subs r0, r0, #1",
            "str r0, [r11, #{windows}]",
            "bne 2b",
            base = const offset_of!(State, base),
            taps = const offset_of!(State, taps),
            table = const offset_of!(State, table),
            out = const offset_of!(State, out),
            requants = const offset_of!(State, requants),
            out_step = const offset_of!(State, out_step),
            step = const offset_of!(State, step),
            cols_left = const offset_of!(State, cols_left),
            next_row = const offset_of!(State, next_row),
            next_out_row = const offset_of!(State, next_out_row),
            cols = const offset_of!(State, cols),
            windows = const offset_of!(State, windows),
            in("r11") &raw mut state,
            out("r0") _,
            out("r1") _,
            out("r2") _,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            out("r8") _,
            out("r10") _,
            out("r12") _,
            out("lr") _,
        );
    }
    true
}
