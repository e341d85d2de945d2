//! Float32 fully connected layer over [`Blocked8`](crate::format::WeightLayout::Blocked8)
//! weights with x86_64 AVX2, bit-exact with the reference: eight output features per vector,
//! each input broadcast and `VMULPS` then `VADDPS` in the reference's order (never `VFMADD`,
//! whose single rounding differs); four blocks share each broadcast input.
#![allow(unsafe_code)]

use super::blocked::{self, L, block_bias};
use crate::format::Activation;
use crate::kernels::conv::avx2_available;
use core::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
};

/// Blocks computed together.
const QUAD: usize = 4;

/// [`super::dense_f32_blocked`] with AVX2 where the CPU has it, the portable packed kernel
/// otherwise; lengths were checked by the caller.
pub(crate) fn dense_f32(
    in_features: usize,
    out_features: usize,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let blocks = out_features.div_ceil(L);
    let rows = output.len().checked_div(out_features).unwrap_or(0);
    let fits = blocks.checked_mul(in_features * L) == Some(weights.len())
        && rows.checked_mul(in_features) == Some(input.len())
        && rows * out_features == output.len();
    if avx2_available() && fits && blocks > 0 {
        // SAFETY: the CPU has AVX2 (checked above) and the slice lengths fit the shape.
        unsafe { dense_f32_avx2(in_features, out_features, act, input, weights, bias, output) }
    } else {
        blocked::dense_f32(in_features, out_features, act, input, weights, bias, output);
    }
}

/// # Safety
///
/// The CPU must have AVX2; `out_features > 0`, `weights` holds
/// `ceil(out_features / 8) * in_features * 8` elements, and `input` `in_features` per row of
/// `output`.
#[target_feature(enable = "avx2")]
unsafe fn dense_f32_avx2(
    in_features: usize,
    out_features: usize,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let blocks = out_features.div_ceil(L);
    let block_len = in_features * L;
    for (r, y) in output.chunks_exact_mut(out_features).enumerate() {
        let x = input.as_ptr().wrapping_add(r * in_features);
        for first in (0..blocks).step_by(QUAD) {
            // Blocks past the last repeat it; their sums are not stored.
            let ids: [usize; QUAD] = core::array::from_fn(|j| (first + j).min(blocks - 1));
            let w: [*const f32; QUAD] =
                core::array::from_fn(|j| weights.as_ptr().wrapping_add(ids[j] * block_len));
            let mut acc: [__m256; QUAD] = core::array::from_fn(|j| {
                let b = block_bias(bias, ids[j]);
                // SAFETY: `b` holds eight floats.
                unsafe { _mm256_loadu_ps(b.as_ptr()) }
            });
            for i in 0..in_features {
                // SAFETY: row `r` holds `in_features` inputs and each block `in_features * 8`
                // weights (the caller's contract); `i < in_features`.
                unsafe {
                    let xv = _mm256_set1_ps(*x.add(i));
                    for j in 0..QUAD {
                        let wv = _mm256_loadu_ps(w[j].add(i * L));
                        acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(xv, wv));
                    }
                }
            }
            for (j, a) in acc.iter().enumerate() {
                if first + j >= blocks {
                    break;
                }
                let mut lanes = [0.0f32; L];
                // SAFETY: `lanes` holds eight floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
                let o = (first + j) * L;
                if let Some(out) = y.get_mut(o..(o + L).min(out_features)) {
                    for (v, s) in out.iter_mut().zip(lanes) {
                        *v = act.apply(s);
                    }
                }
            }
        }
    }
}
