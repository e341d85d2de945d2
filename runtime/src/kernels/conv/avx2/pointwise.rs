//! 1x1 stride-1 convolutions with AVX2: eight filters at a time, widened to 16-bit lanes once
//! (on the stack), against every pixel; each 16 input channels of a pixel are widened once
//! for the eight filters, and the eight sums are requantized together.

use super::super::QuantOut;
use super::super::fast::{Dims, bias_of, run};
use super::requant::Requant8;
use super::{Avx2, ROWS, load8, reduce8, store8, widen16};
use crate::kernels::conv::dot::Dot;
use core::arch::x86_64::{_mm256_add_epi32, _mm256_madd_epi16, _mm256_setzero_si256};

/// Most input channels this kernel takes: the widened filters fill 4 KiB of stack. Wider
/// layers run the portable loops with AVX2 dot products.
pub(super) const MAX_IN: usize = 256;
/// 16-channel vectors per widened filter.
const VECS: usize = MAX_IN / 16;

/// 1x1 stride 1 with at most [`MAX_IN`] input channels.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pointwise(
    d: &Dims,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let vecs = d.in_c.div_ceil(16).min(VECS);
    let mut widened = [_mm256_setzero_si256(); ROWS * VECS];
    let widened = widened.get_mut(..ROWS * vecs).unwrap_or(&mut []);
    for first in (0..d.out_c).step_by(ROWS) {
        let count = (d.out_c - first).min(ROWS);
        let mut start = [0i32; ROWS];
        for (k, s) in start.iter_mut().enumerate().take(count) {
            let filter = run(weights, (first + k) * d.in_c, d.in_c);
            let zp_term = q.input_zp.wrapping_mul(Avx2::sum(filter));
            *s = bias_of(bias, first + k).wrapping_sub(zp_term);
        }
        // SAFETY: the caller guarantees AVX2.
        let (start, requant) = unsafe { (load8(&start), Requant8::new(q, first, d.out_c)) };
        // Vector `v` of filter `k` at `v * ROWS + k`; missing filters (and the channels past
        // `in_c`) are zeros.
        for (v, group) in widened.chunks_exact_mut(ROWS).enumerate() {
            for (k, slot) in group.iter_mut().enumerate() {
                let filter = if k < count {
                    run(weights, (first + k) * d.in_c, d.in_c)
                } else {
                    &[]
                };
                // SAFETY: the caller guarantees AVX2.
                *slot = unsafe { widen16(filter, 16 * v) };
            }
        }
        for (p, y) in output.chunks_exact_mut(d.out_c).enumerate() {
            let x_at = p * d.in_c;
            let mut acc = [_mm256_setzero_si256(); ROWS];
            for (v, w) in widened.chunks_exact(ROWS).enumerate() {
                // SAFETY: the caller guarantees AVX2. Past `in_c` this reads the next pixel
                // (or 0 past the end), which the filters' zeros there multiply.
                let xv = unsafe { widen16(input, x_at + 16 * v) };
                for k in 0..ROWS {
                    acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(xv, w[k]));
                }
            }
            // SAFETY: the caller guarantees AVX2.
            let bytes = unsafe { requant.apply(_mm256_add_epi32(start, reduce8(&acc))) };
            store8(y.get_mut(first..first + count).unwrap_or(&mut []), bytes);
        }
    }
}
