//! int8 fully connected layer with x86_64 AVX2, bit-exact with the reference: eight output
//! features per pass over the input row, each 16 inputs widened to 16-bit lanes and centred
//! (`x - zp`, exact in 16 bits for an int8 zero point) once for the eight weight rows, then
//! `VPMADDWD` into wrapping 32-bit sums (see [`crate::kernels::conv::avx2`]).
#![allow(unsafe_code)]

use super::fast;
use crate::kernels::conv::avx2::{available, dot_rows};
use crate::kernels::conv::{Portable, QuantOut};
use crate::kernels::fixedpoint::requantize;

/// Output features per pass.
const ROWS: usize = 8;

/// [`super::dense_i8`] with AVX2 where the CPU has it (and the zero point is an int8 value,
/// as in every verified model), the portable kernel otherwise; lengths were checked by the
/// caller.
pub(crate) fn dense_i8(
    in_features: usize,
    out_features: usize,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let zp = i8::try_from(q.input_zp).ok();
    match zp {
        Some(zp) if available() && in_features > 0 && out_features > 0 => {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe {
                dense_i8_avx2(
                    in_features,
                    out_features,
                    q,
                    zp,
                    input,
                    weights,
                    bias,
                    output,
                )
            }
        }
        _ => fast::dense_i8::<Portable>(in_features, out_features, q, input, weights, bias, output),
    }
}

/// Both feature counts are non-zero.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn dense_i8_avx2(
    in_features: usize,
    out_features: usize,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let row = |o: usize| {
        let at = o * in_features;
        weights.get(at..at + in_features).unwrap_or(&[])
    };
    for (x, y) in input
        .chunks_exact(in_features)
        .zip(output.chunks_exact_mut(out_features))
    {
        for first in (0..out_features).step_by(ROWS) {
            let count = (out_features - first).min(ROWS);
            let mut rows: [&[i8]; ROWS] = [&[]; ROWS];
            for (k, r) in rows.iter_mut().enumerate() {
                *r = row(first + k.min(count - 1));
            }
            // SAFETY: the caller guarantees AVX2.
            let dots = unsafe { dot_rows(x, rows, zp) };
            let out = y.get_mut(first..first + count).unwrap_or(&mut []);
            for (k, o) in out.iter_mut().enumerate() {
                let bias = bias.and_then(|b| b.get(first + k)).copied().unwrap_or(0);
                *o = requantize(bias.wrapping_add(dots[k]), q, first + k);
            }
        }
    }
}
