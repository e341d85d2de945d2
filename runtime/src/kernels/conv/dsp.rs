//! Dot products with the Arm DSP extension (Cortex-M4/M7/M33, v7-A/R): `SXTB16` widens the
//! even and the odd bytes of a word to two 16-bit lanes, `SMLAD` multiplies lanes pairwise
//! and adds both products to an accumulator. Four int8 products cost two `SMLAD`s, and the
//! input word's widening is shared by four filters.
//!
//! Compiled when the build script sets `whittle_arm_dsp`: `thumbv7em` targets (Cortex-M4/M7)
//! and Arm targets built with the `dsp` feature.
//!
//! `SMLAD` wraps modulo 2^32 like the reference's accumulator (it only sets the sticky Q
//! flag, which nothing reads), and the 16-bit products of int8 values are exact.
#![allow(unsafe_code)]

use super::dot::{Dot, Portable, Rectangle, RowRun, Tap};
use crate::kernels::fixedpoint::Requant4;
use core::arch::asm;

/// Assembly text shared by the whole-layer loops: requantizes r0..r3 on the high-word path,
/// each channel's multiplier, offset and shift read from r12 onwards (`LDM` into r4, r5, r8;
/// r12 ends past the third channel's), and stores them as four bytes at lr.
macro_rules! requantize_and_store_r0_to_r3 {
    () => {
        concat!(
            "ldm r12!, {{r4, r5, r8}}\n",
            "smmla r0, r0, r4, r5\n",
            "asr r0, r0, r8\n",
            "ssat r0, #8, r0\n",
            "strb r0, [lr]\n",
            "ldm r12!, {{r4, r5, r8}}\n",
            "smmla r1, r1, r4, r5\n",
            "asr r1, r1, r8\n",
            "ssat r1, #8, r1\n",
            "strb r1, [lr, #1]\n",
            "ldm r12!, {{r4, r5, r8}}\n",
            "smmla r2, r2, r4, r5\n",
            "asr r2, r2, r8\n",
            "ssat r2, #8, r2\n",
            "strb r2, [lr, #2]\n",
            "ldm r12, {{r4, r5, r8}}\n",
            "smmla r3, r3, r4, r5\n",
            "asr r3, r3, r8\n",
            "ssat r3, #8, r3\n",
            "strb r3, [lr, #3]\n",
        )
    };
}

/// Assembly text: one group of four input values at lr (lr moves past them) against four
/// filters' widened words at r11 (r11 moves past their eight words, loaded four at a time),
/// summed into r0..r3 by `SMLAD`; uses r4, r5, r8, r9, r10, r12.
macro_rules! smlad_group_into_r0_to_r3 {
    () => {
        concat!(
            "ldr r4, [lr], #4\n",
            "sxtb16 r5, r4\n",
            "sxtb16 r4, r4, ror #8\n",
            "ldm r11!, {{r8, r9, r10, r12}}\n",
            "smlad r0, r5, r8, r0\n",
            "smlad r0, r4, r9, r0\n",
            "smlad r1, r5, r10, r1\n",
            "smlad r1, r4, r12, r1\n",
            "ldm r11!, {{r8, r9, r10, r12}}\n",
            "smlad r2, r5, r8, r2\n",
            "smlad r2, r4, r9, r2\n",
            "smlad r3, r5, r10, r3\n",
            "smlad r3, r4, r12, r3\n",
        )
    };
}

mod rectangle;
mod rows;

/// The DSP-extension dot products.
pub(crate) struct ArmDsp;

/// Lanes `(b0, b2)` of `x`'s bytes, sign-extended to 16 bits.
#[inline(always)]
fn widen_even(x: u32) -> u32 {
    let out;
    // SAFETY: SXTB16 only reads and writes the named registers; the module is compiled only
    // for cores with the DSP extension.
    unsafe {
        asm!("sxtb16 {out}, {x}", out = lateout(reg) out, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// Lanes `(b1, b3)` of `x`'s bytes, sign-extended to 16 bits.
#[inline(always)]
fn widen_odd(x: u32) -> u32 {
    let out;
    // SAFETY: as in `widen_even`; the rotation is part of the instruction.
    unsafe {
        asm!("sxtb16 {out}, {x}, ror #8", out = lateout(reg) out, x = in(reg) x,
             options(pure, nomem, nostack, preserves_flags));
    }
    out
}

/// `acc + a.lo * b.lo + a.hi * b.hi` over signed 16-bit lanes, wrapping.
#[inline(always)]
fn mac2(a: u32, b: u32, acc: i32) -> i32 {
    let out;
    // SAFETY: SMLAD only reads and writes the named registers and may set the Q flag, which
    // is why `preserves_flags` is absent.
    unsafe {
        asm!("smlad {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
             b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
    }
    out
}

/// `acc + a.lo * b.lo`, wrapping.
#[inline(always)]
fn mac_bottom(a: u32, b: u32, acc: i32) -> i32 {
    let out;
    // SAFETY: SMLABB only reads and writes the named registers and may set the Q flag.
    unsafe {
        asm!("smlabb {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
             b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
    }
    out
}

/// `acc + a.hi * b.hi`, wrapping.
#[inline(always)]
fn mac_top(a: u32, b: u32, acc: i32) -> i32 {
    let out;
    // SAFETY: SMLATT only reads and writes the named registers and may set the Q flag.
    unsafe {
        asm!("smlatt {out}, {a}, {b}, {acc}", out = lateout(reg) out, a = in(reg) a,
             b = in(reg) b, acc = in(reg) acc, options(pure, nomem, nostack));
    }
    out
}

/// Longest rows [`ArmDsp::prepare`] widens: four of them fill [`Scratch`].
const PREPARED_LEN: usize = 64;

/// Room for four widened rows of [`PREPARED_LEN`] values.
pub(crate) struct Scratch([u32; 2 * PREPARED_LEN]);

impl Default for Scratch {
    fn default() -> Self {
        Self([0; 2 * PREPARED_LEN])
    }
}

/// Four weight rows for [`ArmDsp::dot4_prepared`].
pub(crate) enum Rows<'a> {
    /// Each group of four values of the rows as eight words: row 0's even lanes, its odd
    /// lanes, row 1's, ...; `tails` hold the values past the last whole group.
    Widened {
        words: &'a [u32],
        tails: [&'a [i8]; 4],
    },
    /// Rows too long for the scratch space, as they are.
    Plain([&'a [i8]; 4]),
}

/// Four bytes as a little-endian word (one unaligned load on these cores).
#[inline(always)]
fn word(bytes: &[i8]) -> u32 {
    match *bytes {
        [a, b, c, d] => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        _ => 0,
    }
}

/// The little-endian word at `p`.
///
/// # Safety
///
/// `p..p + 4` must be readable.
#[inline(always)]
unsafe fn read_word(p: *const i8) -> u32 {
    // SAFETY: the caller guarantees four readable bytes; unaligned reads are allowed.
    unsafe { p.cast::<u32>().read_unaligned() }
}

/// `acc[k] + sum x[i] * w[k][i]` over `whole` groups of four values of `x` and of widened
/// words (eight per group: filter 0's even lanes, its odd lanes, filter 1's, ...).
///
/// # Safety
///
/// `x..x + 4 * whole` must be readable bytes and `words..words + 8 * whole` readable,
/// word-aligned words.
#[inline(always)]
unsafe fn smlad_groups(x: *const i8, words: *const u32, whole: usize, acc: [i32; 4]) -> [i32; 4] {
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    if whole > 0 {
        let (mut xp, mut wp, mut n) = (x, words, whole);
        // Per four inputs: one load of them, two widenings, four double-word loads of
        // widened weights, eight SMLADs (registers chosen by hand: the compiler's
        // allocation spills here); unrolled twice, so the loop's own count and branch
        // come once per eight inputs.
        // SAFETY: reads `4 * whole` bytes at `x` and `8 * whole` words at `words`
        // (word-aligned, as LDRD needs), which the caller guarantees; writes only the named
        // registers; `whole > 0`, as the loop's first pass needs.
        unsafe {
            asm!(
                // An odd group first, then two groups per pass.
                "lsrs {n}, {n}, #1",
                "bcc 3f",
                "ldr {x}, [{xp}], #4",
                "sxtb16 {xe}, {x}",
                "sxtb16 {x}, {x}, ror #8",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a0}, {xe}, {w0}, {a0}",
                "smlad {a0}, {x}, {w1}, {a0}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a1}, {xe}, {w0}, {a1}",
                "smlad {a1}, {x}, {w1}, {a1}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a2}, {xe}, {w0}, {a2}",
                "smlad {a2}, {x}, {w1}, {a2}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a3}, {xe}, {w0}, {a3}",
                "smlad {a3}, {x}, {w1}, {a3}",
                "3:",
                "cmp {n}, #0",
                "beq 4f",
                "2:",
                "ldr {x}, [{xp}], #4",
                "sxtb16 {xe}, {x}",
                "sxtb16 {x}, {x}, ror #8",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a0}, {xe}, {w0}, {a0}",
                "smlad {a0}, {x}, {w1}, {a0}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a1}, {xe}, {w0}, {a1}",
                "smlad {a1}, {x}, {w1}, {a1}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a2}, {xe}, {w0}, {a2}",
                "smlad {a2}, {x}, {w1}, {a2}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a3}, {xe}, {w0}, {a3}",
                "smlad {a3}, {x}, {w1}, {a3}",
                "ldr {x}, [{xp}], #4",
                "sxtb16 {xe}, {x}",
                "sxtb16 {x}, {x}, ror #8",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a0}, {xe}, {w0}, {a0}",
                "smlad {a0}, {x}, {w1}, {a0}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a1}, {xe}, {w0}, {a1}",
                "smlad {a1}, {x}, {w1}, {a1}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a2}, {xe}, {w0}, {a2}",
                "smlad {a2}, {x}, {w1}, {a2}",
                "ldrd {w0}, {w1}, [{wp}], #8",
                "smlad {a3}, {xe}, {w0}, {a3}",
                "smlad {a3}, {x}, {w1}, {a3}",
                "subs {n}, {n}, #1",
                "bne 2b",
                "4:",
                xp = inout(reg) xp,
                wp = inout(reg) wp,
                n = inout(reg) n,
                x = out(reg) _,
                xe = out(reg) _,
                w0 = out(reg) _,
                w1 = out(reg) _,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                options(readonly, nostack),
            );
        }
        let _ = (xp, wp, n);
    }
    [a0, a1, a2, a3]
}

impl Dot for ArmDsp {
    type Scratch = Scratch;
    type Rows<'a> = Rows<'a>;

    #[inline(always)]
    fn dot4(x: &[i8], w: [&[i8]; 4]) -> [i32; 4] {
        if w.iter().any(|row| row.len() < x.len()) {
            return Portable::dot4(x, w);
        }
        let whole = x.len() / 4;
        let [mut a0, mut a1, mut a2, mut a3] = [0i32; 4];
        let (xp, [p0, p1, p2, p3]) = (x.as_ptr(), w.map(<[i8]>::as_ptr));
        for g in 0..whole {
            let at = 4 * g;
            // SAFETY: `at + 4 <= x.len()`, and every row is at least as long as `x`.
            let (xw, w0, w1, w2, w3) = unsafe {
                (
                    read_word(xp.add(at)),
                    read_word(p0.add(at)),
                    read_word(p1.add(at)),
                    read_word(p2.add(at)),
                    read_word(p3.add(at)),
                )
            };
            let (xe, xo) = (widen_even(xw), widen_odd(xw));
            a0 = mac2(xo, widen_odd(w0), mac2(xe, widen_even(w0), a0));
            a1 = mac2(xo, widen_odd(w1), mac2(xe, widen_even(w1), a1));
            a2 = mac2(xo, widen_odd(w2), mac2(xe, widen_even(w2), a2));
            a3 = mac2(xo, widen_odd(w3), mac2(xe, widen_even(w3), a3));
        }
        let tail = 4 * whole;
        let rest = Portable::dot4(
            x.get(tail..).unwrap_or(&[]),
            w.map(|row| row.get(tail..).unwrap_or(&[])),
        );
        [
            a0.wrapping_add(rest[0]),
            a1.wrapping_add(rest[1]),
            a2.wrapping_add(rest[2]),
            a3.wrapping_add(rest[3]),
        ]
    }

    #[inline(always)]
    fn prepare<'a>(w: [&'a [i8]; 4], scratch: &'a mut Scratch) -> Rows<'a> {
        let len = w[0].len();
        if len > PREPARED_LEN || w.iter().any(|row| row.len() != len) {
            return Rows::Plain(w);
        }
        let whole = len & !3;
        let words = scratch.0.get_mut(..2 * whole).unwrap_or(&mut []);
        for (j, group) in words.chunks_exact_mut(8).enumerate() {
            for (k, pair) in group.chunks_exact_mut(2).enumerate() {
                let v = word(w[k].get(4 * j..4 * j + 4).unwrap_or(&[]));
                pair[0] = widen_even(v);
                pair[1] = widen_odd(v);
            }
        }
        Rows::Widened {
            words,
            tails: w.map(|row| row.get(whole..).unwrap_or(&[])),
        }
    }

    #[inline(always)]
    fn dot4_prepared(x: &[i8], rows: &Rows<'_>) -> [i32; 4] {
        let (words, tails) = match rows {
            Rows::Widened { words, tails } => (words, tails),
            Rows::Plain(w) => return Self::dot4(x, *w),
        };
        let whole = x.len() / 4;
        if words.len() < 8 * whole {
            return Portable::dot4(x, [&[][..]; 4]);
        }
        // SAFETY: `4 * whole <= x.len()` bytes of `x`, `8 * whole <= words.len()` words.
        let [a0, a1, a2, a3] = unsafe { smlad_groups(x.as_ptr(), words.as_ptr(), whole, [0; 4]) };
        let rest = Portable::dot4(x.get(4 * whole..).unwrap_or(&[]), *tails);
        [
            a0.wrapping_add(rest[0]),
            a1.wrapping_add(rest[1]),
            a2.wrapping_add(rest[2]),
            a3.wrapping_add(rest[3]),
        ]
    }

    #[inline(always)]
    fn dot4_widened(x: &[i8], words: &[u32]) -> [i32; 4] {
        let whole = x.len() / 4;
        let groups = x.len().div_ceil(4);
        if words.len() < 8 * groups {
            return Portable::dot4_widened(x, words); // never: the caller checked the lengths
        }
        // SAFETY: `4 * whole <= x.len()` bytes of `x`, `8 * whole <= 8 * groups <=
        // words.len()` words.
        let acc = unsafe { smlad_groups(x.as_ptr(), words.as_ptr(), whole, [0; 4]) };
        if whole == groups {
            return acc;
        }
        // The last, partial group: its missing values read as 0 (their weights are 0 too).
        let last = words.get(8 * whole..8 * groups).unwrap_or(&[]);
        let xw = super::dot::load4(x, 4 * whole);
        let (xe, xo) = (widen_even(xw), widen_odd(xw));
        let lanes = |k: usize| [2 * k, 2 * k + 1].map(|i| last.get(i).copied().unwrap_or(0));
        let mac = |a: i32, k: usize| {
            let [even, odd] = lanes(k);
            mac2(xo, odd, mac2(xe, even, a))
        };
        [
            mac(acc[0], 0),
            mac(acc[1], 1),
            mac(acc[2], 2),
            mac(acc[3], 3),
        ]
    }

    #[inline(always)]
    fn mac_lanes(acc: [i32; 4], x: u32, [even, odd]: [u32; 2]) -> [i32; 4] {
        let (xe, xo) = (widen_even(x), widen_odd(x));
        [
            mac_bottom(xe, even, acc[0]),
            mac_bottom(xo, odd, acc[1]),
            mac_top(xe, even, acc[2]),
            mac_top(xo, odd, acc[3]),
        ]
    }

    #[inline(always)]
    fn mac_window(
        acc: [i32; 4],
        input: &[i8],
        base: usize,
        reach: usize,
        taps: &[Tap],
    ) -> [i32; 4] {
        let fits = base
            .checked_add(reach)
            .and_then(|end| end.checked_add(4))
            .is_some_and(|end| end <= input.len());
        if !fits || taps.is_empty() {
            // No tap, or (never, for the windows the depthwise loops build) one outside the
            // input: the same sums in safe code.
            return Portable::mac_window(acc, input, base, reach, taps);
        }
        let [mut a0, mut a1, mut a2, mut a3] = acc;
        let (base, mut tp, mut n) = (input.as_ptr().wrapping_add(base), taps.as_ptr(), taps.len());
        // Per tap: its offset, the four input values there, its widened weights, two
        // widenings, four 16x16 multiply-accumulates (registers chosen by hand).
        // SAFETY: `n > 0` taps, each 12 readable, word-aligned bytes (as LDRD needs) at `tp`.
        // Tap `t` reads the word at `base + offset`, inside `input`: `offset <= reach` (the
        // caller's promise: the depthwise loops compute `reach` as the table's largest offset)
        // and `base + reach + 4 <= input.len()` (checked above). Writes only the named
        // registers; SMLABB/SMLATT may set the Q flag, which nothing reads.
        unsafe {
            asm!(
                "2:",
                "ldr {x}, [{tp}], #4",
                "ldr {x}, [{base}, {x}]",
                "ldrd {we}, {wo}, [{tp}], #8",
                "sxtb16 {xe}, {x}",
                "sxtb16 {x}, {x}, ror #8",
                "smlabb {a0}, {xe}, {we}, {a0}",
                "smlabb {a1}, {x}, {wo}, {a1}",
                "smlatt {a2}, {xe}, {we}, {a2}",
                "smlatt {a3}, {x}, {wo}, {a3}",
                "subs {n}, {n}, #1",
                "bne 2b",
                base = in(reg) base,
                tp = inout(reg) tp,
                n = inout(reg) n,
                x = out(reg) _,
                xe = out(reg) _,
                we = out(reg) _,
                wo = out(reg) _,
                a0 = inout(reg) a0,
                a1 = inout(reg) a1,
                a2 = inout(reg) a2,
                a3 = inout(reg) a3,
                options(readonly, nostack),
            );
        }
        let _ = (tp, n);
        [a0, a1, a2, a3]
    }

    #[inline(always)]
    fn mac_rectangle(
        start: [i32; 4],
        input: &[i8],
        reach: usize,
        taps: &[Tap],
        rect: &Rectangle,
        requants: &Requant4,
        output: &mut [i8],
    ) -> bool {
        rectangle::mac_rectangle(start, input, reach, taps, rect, requants, output)
    }

    #[inline(always)]
    fn dot4_widened_rows(
        start: [i32; 4],
        x: &[i8],
        words: &[u32],
        run: &RowRun,
        requants: &Requant4,
        output: &mut [i8],
    ) -> bool {
        rows::dot4_widened_rows(start, x, words, run, requants, output)
    }

    #[inline(always)]
    fn dot4_prepared_rows(
        start: [i32; 4],
        x: &[i8],
        rows: &Rows<'_>,
        run: &RowRun,
        requants: &Requant4,
        output: &mut [i8],
    ) -> bool {
        // Rows without tails are widened words like the compiler's.
        match rows {
            Rows::Widened { words, tails } if tails.iter().all(|t| t.is_empty()) => {
                rows::dot4_widened_rows(start, x, words, run, requants, output)
            }
            _ => false,
        }
    }

    #[inline(always)]
    fn sum(w: &[i8]) -> i32 {
        // Both lanes of `ONES` are 1: SMLAD adds the two widened bytes.
        const ONES: u32 = 0x0001_0001;
        let mut acc = 0i32;
        let mut words = w.chunks_exact(4);
        for wq in &mut words {
            let ww = word(wq);
            acc = mac2(widen_even(ww), ONES, acc);
            acc = mac2(widen_odd(ww), ONES, acc);
        }
        words
            .remainder()
            .iter()
            .fold(acc, |acc, &v| acc.wrapping_add(i32::from(v)))
    }
}
