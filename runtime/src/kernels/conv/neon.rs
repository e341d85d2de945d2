//! Dot products with AArch64 NEON (Advanced SIMD), sixteen int8 values per instruction.
//!
//! - [`Neon`] (every AArch64 core): `SMULL`/`SMULL2` multiply int8 lanes into exact int16
//!   products, `SADALP` adds neighbouring products into int32 accumulators. Two products are
//!   never added in 16 bits (`2 * -128 * -128 = 32768` does not fit).
//! - [`NeonDot`] (the dot-product extension, Armv8.2-A and later, `-C target-feature=+dotprod`):
//!   `SDOT` adds four int8 products into each int32 lane in one instruction.
//!
//! Every int32 lane wraps modulo 2^32 like the reference's accumulator, so the lanes' order
//! of summation does not change the bits. Rows are read as they are (`prepare` has nothing to
//! rearrange), and the depthwise kernel's four-channel steps run the portable code: four
//! lanes are too few for the vector unit to pay off.
//!
//! Compiled when the build script sets `whittle_neon` (AArch64 with `neon`), and `NeonDot`
//! when it also sets `whittle_neon_dot` (and `dotprod`). The intrinsics are `unsafe` to call
//! from functions that do not name the feature themselves, even when the whole build has it;
//! every such call here only computes on registers, on a target with NEON.
#![allow(unsafe_code)]

use super::dot::{Dot, Portable};
use core::arch::aarch64::{
    int8x16_t, int32x4_t, vaddvq_s32, vdupq_n_s32, vget_low_s8, vgetq_lane_s32, vld1_s8, vld1q_s8,
    vmull_high_s8, vmull_s8, vpadalq_s16, vpaddlq_s8, vpaddq_s32,
};
#[cfg(whittle_neon_dot)]
use core::arch::asm;

/// The NEON dot products (`SMULL` + `SADALP`).
pub(crate) struct Neon;

/// The dot products with `SDOT`.
#[cfg(whittle_neon_dot)]
pub(crate) struct NeonDot;

/// How sixteen products of `x` and `w` are added to four int32 lanes.
trait Mac16 {
    /// `acc` plus the sixteen products `x[i] * w[i]`, spread over its lanes, wrapping.
    fn mac16(acc: int32x4_t, x: int8x16_t, w: int8x16_t) -> int32x4_t;
}

impl Mac16 for Neon {
    #[inline(always)]
    fn mac16(acc: int32x4_t, x: int8x16_t, w: int8x16_t) -> int32x4_t {
        // SAFETY: register-only NEON intrinsics, on a target with NEON.
        unsafe {
            let low = vmull_s8(vget_low_s8(x), vget_low_s8(w));
            vpadalq_s16(vpadalq_s16(acc, low), vmull_high_s8(x, w))
        }
    }
}

#[cfg(whittle_neon_dot)]
impl Mac16 for NeonDot {
    #[inline(always)]
    fn mac16(mut acc: int32x4_t, x: int8x16_t, w: int8x16_t) -> int32x4_t {
        // `vdotq_s32` is not stable yet, hence the instruction itself.
        // SAFETY: SDOT reads and writes only the named registers; this impl is compiled only
        // with the `dotprod` target feature.
        unsafe {
            asm!("sdot {acc:v}.4s, {x:v}.16b, {w:v}.16b", acc = inout(vreg) acc,
                 x = in(vreg) x, w = in(vreg) w,
                 options(pure, nomem, nostack, preserves_flags));
        }
        acc
    }
}

/// `sum x[i] * w[k][i]` for four rows, the whole blocks of sixteen values by `M`, the next
/// eight with `SMULL`, the rest by the portable code.
#[inline(always)]
fn dot4_with<M: Mac16>(x: &[i8], w: [&[i8]; 4]) -> [i32; 4] {
    if w.iter().any(|row| row.len() < x.len()) {
        return Portable::dot4(x, w);
    }
    let (xp, [p0, p1, p2, p3]) = (x.as_ptr(), w.map(<[i8]>::as_ptr));
    // SAFETY: a register-only NEON intrinsic, on a target with NEON.
    let [mut a0, mut a1, mut a2, mut a3] = [unsafe { vdupq_n_s32(0) }; 4];
    let blocks = x.len() / 16;
    for b in 0..blocks {
        let at = 16 * b;
        // SAFETY: `at + 16 <= x.len()`, and every row is at least as long as `x`.
        let (xv, w0, w1, w2, w3) = unsafe {
            (
                vld1q_s8(xp.add(at)),
                vld1q_s8(p0.add(at)),
                vld1q_s8(p1.add(at)),
                vld1q_s8(p2.add(at)),
                vld1q_s8(p3.add(at)),
            )
        };
        a0 = M::mac16(a0, xv, w0);
        a1 = M::mac16(a1, xv, w1);
        a2 = M::mac16(a2, xv, w2);
        a3 = M::mac16(a3, xv, w3);
    }
    let mut done = 16 * blocks;
    if x.len() >= done + 8 {
        // SAFETY: `done + 8 <= x.len()`, and every row is at least as long as `x`; the
        // other intrinsics only compute on registers, on a target with NEON.
        unsafe {
            let xv = vld1_s8(xp.add(done));
            a0 = vpadalq_s16(a0, vmull_s8(xv, vld1_s8(p0.add(done))));
            a1 = vpadalq_s16(a1, vmull_s8(xv, vld1_s8(p1.add(done))));
            a2 = vpadalq_s16(a2, vmull_s8(xv, vld1_s8(p2.add(done))));
            a3 = vpadalq_s16(a3, vmull_s8(xv, vld1_s8(p3.add(done))));
        }
        done += 8;
    }
    // Lane k of `sums` is the sum of accumulator k's lanes.
    // SAFETY: register-only NEON intrinsics, on a target with NEON.
    let sums = unsafe {
        let sums = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
        [
            vgetq_lane_s32::<0>(sums),
            vgetq_lane_s32::<1>(sums),
            vgetq_lane_s32::<2>(sums),
            vgetq_lane_s32::<3>(sums),
        ]
    };
    let rest = Portable::dot4(
        x.get(done..).unwrap_or(&[]),
        w.map(|row| row.get(done..).unwrap_or(&[])),
    );
    [
        sums[0].wrapping_add(rest[0]),
        sums[1].wrapping_add(rest[1]),
        sums[2].wrapping_add(rest[2]),
        sums[3].wrapping_add(rest[3]),
    ]
}

/// `sum w[i]`, wrapping: `SADDLP` adds neighbouring bytes into int16 lanes (no overflow),
/// `SADALP` those into int32 lanes.
#[inline(always)]
fn sum(w: &[i8]) -> i32 {
    let p = w.as_ptr();
    let blocks = w.len() / 16;
    // SAFETY: register-only NEON intrinsics, on a target with NEON.
    let mut acc = unsafe { vdupq_n_s32(0) };
    for b in 0..blocks {
        // SAFETY: `16 * b + 16 <= w.len()`; the rest as above.
        acc = unsafe { vpadalq_s16(acc, vpaddlq_s8(vld1q_s8(p.add(16 * b)))) };
    }
    // SAFETY: as above.
    let head = unsafe { vaddvq_s32(acc) };
    w.get(16 * blocks..)
        .unwrap_or(&[])
        .iter()
        .fold(head, |acc, &v| acc.wrapping_add(i32::from(v)))
}

impl Dot for Neon {
    type Scratch = ();
    type Rows<'a> = [&'a [i8]; 4];

    #[inline(always)]
    fn dot4(x: &[i8], w: [&[i8]; 4]) -> [i32; 4] {
        dot4_with::<Neon>(x, w)
    }

    #[inline(always)]
    fn prepare<'a>(w: [&'a [i8]; 4], _: &'a mut ()) -> [&'a [i8]; 4] {
        w
    }

    #[inline(always)]
    fn dot4_prepared(x: &[i8], rows: &[&[i8]; 4]) -> [i32; 4] {
        Self::dot4(x, *rows)
    }

    #[inline(always)]
    fn sum(w: &[i8]) -> i32 {
        sum(w)
    }
}

#[cfg(whittle_neon_dot)]
impl Dot for NeonDot {
    type Scratch = ();
    type Rows<'a> = [&'a [i8]; 4];

    #[inline(always)]
    fn dot4(x: &[i8], w: [&[i8]; 4]) -> [i32; 4] {
        dot4_with::<NeonDot>(x, w)
    }

    #[inline(always)]
    fn prepare<'a>(w: [&'a [i8]; 4], _: &'a mut ()) -> [&'a [i8]; 4] {
        w
    }

    #[inline(always)]
    fn dot4_prepared(x: &[i8], rows: &[&[i8]; 4]) -> [i32; 4] {
        Self::dot4(x, *rows)
    }

    #[inline(always)]
    fn sum(w: &[i8]) -> i32 {
        sum(w)
    }
}
