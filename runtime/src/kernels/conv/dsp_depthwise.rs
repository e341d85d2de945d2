//! Depthwise convolutions with the Arm DSP extension: four channels at a time, one
//! hand-scheduled loop over the taps of each window (`LDR` of four channels, `SXTB16` into
//! even and odd lanes, `SMLABB`/`SMLATT` into four accumulators).
//!
//! The loop runs over a table of the window's taps inside the input, `(offset from the
//! window's first such tap, weights widened as SXTB16 widens the input)`, which depends only on
//! which taps of the window lie inside the input. The output is visited in rectangles whose
//! windows all have the same taps inside (the interior, each edge, each corner), so the table
//! is built once per rectangle, and each window's position follows from the strides. The taps
//! in the padding read the zero point, whose products, computed once per table, are added to
//! the accumulators' start (`bias - zp * sum w`), which cancels them, exactly as the reference
//! skips those taps.
#![allow(unsafe_code)]

use super::QuantOut;
use super::dot::{Dot, Portable, load4, widen};
use super::dsp::ArmDsp;
use super::fast::{Dims, MAX_TAPS, Taps, offsets_of, run, store};
use crate::kernels::fixedpoint::ChannelRequant;
use core::arch::asm;

/// One tap of a channel group inside the input: where it reads, relative to the window's
/// first tap inside the input, and its weights widened as `SXTB16` widens the input
/// (`[even lanes, odd lanes]`).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Tap {
    offset: usize,
    lanes: [u32; 2],
}

/// Most taps of this kernel (3x3 windows), for its tables on the stack. Larger windows run
/// the generic loops.
const TAPS: usize = 9;

/// A depthwise convolution with at most [`MAX_TAPS`] taps and an int8 input zero point.
pub(super) fn depthwise(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let taps = d.k_h * d.k_w;
    if taps > TAPS {
        return super::fast::depthwise::<ArmDsp>(d, q, zp, input, weights, bias, output);
    }
    if taps == 0 || taps > MAX_TAPS {
        return; // never: the caller checked
    }
    let padding = u32::from_le_bytes([zp as u8; 4]);
    let mut lanes = [[0u32; 2]; TAPS];
    let lanes = lanes.get_mut(..taps).unwrap_or(&mut []);
    let mut table = [Tap::default(); TAPS];
    for first in (0..d.in_c).step_by(4) {
        let count = (d.in_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let filters = channels.map(|c| run(weights, c * taps, taps));
        for (t, l) in lanes.iter_mut().enumerate() {
            *l = widen(filters.map(|f| f.get(t).copied().unwrap_or(0)));
        }
        let start = offsets_of::<Portable>(q, bias, channels, filters);
        let requants = channels.map(|c| ChannelRequant::new(q, c));
        for n in 0..d.batch {
            let mut rows = Run::first(d.out_h, |o| {
                Taps::at(o, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h)
            });
            while let Some(ys) = rows {
                let mut columns = Run::first(d.out_w, |o| {
                    Taps::at(o, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w)
                });
                while let Some(xs) = columns {
                    // One table for the whole rectangle of windows.
                    let (mut used, mut reach, mut window_start) = (0, 0, start);
                    let mut t = 0;
                    for ky in 0..d.k_h {
                        for kx in 0..d.k_w {
                            let w = lanes.get(t).copied().unwrap_or_default();
                            t += 1;
                            let inside = (ys.taps.lo..ys.taps.hi).contains(&ky)
                                && (xs.taps.lo..xs.taps.hi).contains(&kx);
                            if !inside {
                                window_start = Portable::mac_lanes(window_start, padding, w);
                                continue;
                            }
                            let offset = ((ky - ys.taps.lo) * d.d_h * d.in_w
                                + (kx - xs.taps.lo) * d.d_w)
                                * d.in_c;
                            if let Some(tap) = table.get_mut(used) {
                                *tap = Tap { offset, lanes: w };
                                used += 1;
                                reach = reach.max(offset);
                            }
                        }
                    }
                    let inside = table.get(..used).unwrap_or(&[]);
                    for oy in ys.outs.clone() {
                        // Within a run the first tap inside moves by the stride.
                        let iy = ys.taps.first.wrapping_add((oy - ys.outs.start) * d.s_h);
                        let row = (n * d.in_h).wrapping_add(iy).wrapping_mul(d.in_w);
                        for ox in xs.outs.clone() {
                            let ix = xs.taps.first.wrapping_add((ox - xs.outs.start) * d.s_w);
                            let base = row
                                .wrapping_add(ix)
                                .wrapping_mul(d.in_c)
                                .wrapping_add(first);
                            let acc = window(window_start, input, base, reach, inside);
                            let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c + first;
                            store(output, out_at, count, acc, &requants);
                        }
                    }
                    columns = xs.next(d.out_w, |o| {
                        Taps::at(o, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w)
                    });
                }
                rows = ys.next(d.out_h, |o| {
                    Taps::at(o, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h)
                });
            }
        }
    }
}

/// A run of consecutive output positions along one axis whose windows have the same taps
/// inside the input.
struct Run {
    /// The output positions.
    outs: core::ops::Range<usize>,
    /// The taps of the run's first position.
    taps: Taps,
}

impl Run {
    /// The run from output position `from` (of `len`), `taps_at` giving each position's taps.
    fn from(from: usize, len: usize, taps_at: impl Fn(usize) -> Taps) -> Option<Self> {
        if from >= len {
            return None;
        }
        let taps = taps_at(from);
        let mut end = from + 1;
        while end < len && {
            let next = taps_at(end);
            (next.lo, next.hi) == (taps.lo, taps.hi)
        } {
            end += 1;
        }
        Some(Self {
            outs: from..end,
            taps,
        })
    }

    /// The first run of an axis of `len` output positions.
    fn first(len: usize, taps_at: impl Fn(usize) -> Taps) -> Option<Self> {
        Self::from(0, len, taps_at)
    }

    /// The run after this one.
    fn next(&self, len: usize, taps_at: impl Fn(usize) -> Taps) -> Option<Self> {
        Self::from(self.outs.end, len, taps_at)
    }
}

/// `acc` plus the products of `taps` read from `input[base + offset..][..4]`, every offset at
/// most `reach`.
#[inline(always)]
fn window(acc: [i32; 4], input: &[i8], base: usize, reach: usize, taps: &[Tap]) -> [i32; 4] {
    let fits = base
        .checked_add(reach)
        .and_then(|end| end.checked_add(4))
        .is_some_and(|end| end <= input.len());
    if !fits || taps.is_empty() {
        // No tap, or (never, for the windows `depthwise` builds) a tap outside the input:
        // the same sums in safe code.
        return taps.iter().fold(acc, |acc, tap| {
            Portable::mac_lanes(acc, load4(input, base.wrapping_add(tap.offset)), tap.lanes)
        });
    }
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    let (base, mut tp, mut n) = (input.as_ptr().wrapping_add(base), taps.as_ptr(), taps.len());
    // SAFETY: `n > 0` taps, each 12 readable, word-aligned bytes (as LDRD needs) at `tp`. Tap
    // `t` reads the word at `base + offset`, inside `input`: `offset <= reach` (the caller's
    // promise, and `depthwise` computes `reach` as the largest offset of the table) and
    // `base + reach + 4 <= input.len()` (checked above). Writes only the named registers;
    // SMLABB/SMLATT may set the Q flag, which nothing reads.
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
