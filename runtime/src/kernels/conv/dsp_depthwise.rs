//! Depthwise convolutions with the Arm DSP extension: four channels at a time, one
//! hand-scheduled loop over the taps of each window (`LDR` of four channels, `SXTB16` into
//! even and odd lanes, `SMLABB`/`SMLATT` into four accumulators).
//!
//! Each channel group's taps are a table of `(offset, even weights, odd weights)` built once:
//! the loop reads tap `t` at `base + offset`, so a window inside the input uses the same table
//! for every pixel, and a window that overlaps the padding gets its offsets rewritten, those
//! of the taps in the padding pointing at a word of four zero points. Padding thus reads as
//! the zero point, whose products the accumulator's start (`bias - zp * sum w`) cancels,
//! exactly as the reference skips those taps.
#![allow(unsafe_code)]

use super::QuantOut;
use super::dot::{Dot, Portable, load4, widen};
use super::dsp::ArmDsp;
use super::fast::{Dims, MAX_TAPS, Taps, offsets_of, run, store};
use crate::kernels::fixedpoint::ChannelRequant;
use core::arch::asm;

/// One tap of a channel group: where it reads, relative to the window's base, and its
/// weights widened as `SXTB16` widens the input (`[even lanes, odd lanes]`).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Tap {
    offset: usize,
    lanes: [u32; 2],
}

/// Most taps of this kernel (3x3 windows): its two tables take 12 bytes of stack per tap.
/// Larger windows run the generic loops.
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
    // The word the taps in the padding read: four zero points.
    let padding = [zp; 4];
    let pad_at = padding.as_ptr().expose_provenance();
    let mut inner = [Tap::default(); TAPS];
    let mut edge = [Tap::default(); TAPS];
    let inner = inner.get_mut(..taps).unwrap_or(&mut []);
    let edge = edge.get_mut(..taps).unwrap_or(&mut []);
    // Offsets of a window inside the input, from its first tap; the last one is the largest.
    let taps_yx = (0..d.k_h).flat_map(|ky| (0..d.k_w).map(move |kx| (ky, kx)));
    for (tap, (ky, kx)) in inner.iter_mut().zip(taps_yx) {
        tap.offset = (ky * d.d_h * d.in_w + kx * d.d_w) * d.in_c;
    }
    let inner_reach = inner.iter().map(|t| t.offset).max().unwrap_or(0);
    for first in (0..d.in_c).step_by(4) {
        let count = (d.in_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let filters = channels.map(|c| run(weights, c * taps, taps));
        for (t, (a, b)) in inner.iter_mut().zip(edge.iter_mut()).enumerate() {
            a.lanes = widen(filters.map(|f| f.get(t).copied().unwrap_or(0)));
            b.lanes = a.lanes;
        }
        let start = offsets_of::<Portable>(q, bias, channels, filters);
        let requants = channels.map(|c| ChannelRequant::new(q, c));
        for n in 0..d.batch {
            for oy in 0..d.out_h {
                let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                for ox in 0..d.out_w {
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let base = ((n * d.in_h + ys.first) * d.in_w + xs.first) * d.in_c + first;
                    let inside = (ys.lo, ys.hi, xs.lo, xs.hi) == (0, d.k_h, 0, d.k_w);
                    let acc = if inside {
                        window(start, input, base, inner_reach, inner, padding)
                    } else {
                        // Taps outside the input read the padding word.
                        let at = input.as_ptr().addr().wrapping_add(base);
                        let mut reach = None;
                        for (t, tap) in edge.iter_mut().enumerate() {
                            let (ky, kx) = (t / d.k_w, t % d.k_w);
                            tap.offset = if (ys.lo..ys.hi).contains(&ky)
                                && (xs.lo..xs.hi).contains(&kx)
                            {
                                let offset =
                                    ((ky - ys.lo) * d.d_h * d.in_w + (kx - xs.lo) * d.d_w) * d.in_c;
                                reach = reach.max(Some(offset));
                                offset
                            } else {
                                pad_at.wrapping_sub(at)
                            };
                        }
                        match reach {
                            Some(reach) => window(start, input, base, reach, edge, padding),
                            // Every tap in the padding.
                            None => edge.iter().fold(start, |acc, tap| {
                                Portable::mac_lanes(acc, word(padding), tap.lanes)
                            }),
                        }
                    };
                    let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c + first;
                    store(output, out_at, count, acc, &requants);
                }
            }
        }
    }
}

/// Four int8 values as a little-endian word.
fn word(v: [i8; 4]) -> u32 {
    u32::from_le_bytes(v.map(|b| b as u8))
}

/// `acc` plus the products of `taps` read from `base`: a tap whose offset is at most `reach`
/// reads `input[base + offset..][..4]`, any other reads `padding`, its offset pointing at it
/// (an address relative to `input[base]`, wrapping).
#[inline(always)]
fn window(
    acc: [i32; 4],
    input: &[i8],
    base: usize,
    reach: usize,
    taps: &[Tap],
    padding: [i8; 4],
) -> [i32; 4] {
    let fits = base
        .checked_add(reach)
        .and_then(|end| end.checked_add(4))
        .is_some_and(|end| end <= input.len());
    if !fits || taps.is_empty() {
        // Never for the windows `depthwise` builds; the same sums in safe code.
        return taps.iter().fold(acc, |acc, tap| {
            let x = if tap.offset <= reach {
                load4(input, base.wrapping_add(tap.offset))
            } else {
                word(padding)
            };
            Portable::mac_lanes(acc, x, tap.lanes)
        });
    }
    let [mut a0, mut a1, mut a2, mut a3] = acc;
    let (base, mut tp, mut n) = (input.as_ptr().wrapping_add(base), taps.as_ptr(), taps.len());
    // SAFETY: `n > 0` taps, each 12 readable, word-aligned bytes (as LDRD needs) at `tp`. Tap
    // `t` reads the word at `base + offset` (wrapping): inside `input` when `offset <= reach`
    // (checked above); `depthwise` gives every other tap the offset of its padding word,
    // alive for the call. Writes only the named registers; SMLABB/SMLATT may set the Q flag,
    // which nothing reads.
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
