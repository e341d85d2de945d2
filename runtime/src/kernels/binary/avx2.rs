//! The int8 `Add`/`Sub` table loop with x86_64 AVX2: the table lookups stay scalar, the
//! output rescale (a 64-bit multiply and rounding shift per element) runs eight at a time.
#![allow(unsafe_code)]

use super::QuantBinary;
use super::tables::sum;
use crate::kernels::Src;
use crate::kernels::conv::QuantOut;
use crate::kernels::conv::avx2::requant::Requant8;
use core::arch::x86_64::_mm256_loadu_si256;

/// The loop of [`add_sub_i8`](super::tables::add_sub_i8) with AVX2 where the CPU has it (then
/// `true`; `false`, having done nothing, otherwise).
pub(super) fn add_sub_i8(
    p: &QuantBinary,
    a_terms: &[i32; 256],
    b_terms: &[i32; 256],
    a: Src<'_, i8>,
    b: Src<'_, i8>,
    output: &mut [i8],
) -> bool {
    if !crate::kernels::conv::avx2_available() {
        return false;
    }
    // SAFETY: the CPU has AVX2, checked just above.
    unsafe { add_sub_i8_avx2(p, a_terms, b_terms, a, b, output) };
    true
}

/// The element loop with the output rescale of eight elements at once
/// ([`Requant8`], which computes the reference's `finish` bit for bit).
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn add_sub_i8_avx2(
    p: &QuantBinary,
    a_terms: &[i32; 256],
    b_terms: &[i32; 256],
    a: Src<'_, i8>,
    b: Src<'_, i8>,
    output: &mut [i8],
) {
    let (m, s) = p.out_scale;
    // The reference clamps the shift to -31..=30 before using it, so this conversion keeps
    // its value.
    let shift = [s.clamp(-31, 30) as i8];
    let q = QuantOut {
        input_zp: 0,
        output_zp: p.zero_points[2],
        multipliers: &[m],
        shifts: &shift,
        act_min: p.act_min,
        act_max: p.act_max,
    };
    // SAFETY: the caller guarantees AVX2.
    let requant = unsafe { Requant8::new(&q, 0, 8) };
    for (k, y) in output.chunks_mut(8).enumerate() {
        let operand = |src: &Src<'_, i8>, y: &[i8]| match src {
            Src::Slice(s) => s.get(8 * k..8 * k + y.len()).unwrap_or(&[]).to_owned8(),
            Src::Output => y.to_owned8(),
        };
        let (u, v) = (operand(&a, y), operand(&b, y));
        let mut sums = [0i32; 8];
        for ((s, &u), &v) in sums.iter_mut().zip(&u).zip(&v) {
            *s = sum(a_terms, b_terms, u, v);
        }
        // SAFETY: the caller guarantees AVX2; `sums` is 32 readable bytes and the load has no
        // alignment requirement.
        let bytes = unsafe { requant.apply(_mm256_loadu_si256(sums.as_ptr().cast())) };
        for (y, v) in y.iter_mut().zip(bytes) {
            *y = v;
        }
    }
}

/// Up to eight values copied into an array (zeros past them).
trait ToOwned8 {
    fn to_owned8(&self) -> [i8; 8];
}

impl ToOwned8 for [i8] {
    fn to_owned8(&self) -> [i8; 8] {
        let mut out = [0; 8];
        for (o, &v) in out.iter_mut().zip(self) {
            *o = v;
        }
        out
    }
}
