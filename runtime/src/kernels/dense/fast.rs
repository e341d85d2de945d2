//! Optimized int8 fully connected layer, generic over its dot products ([`Dot`]), bit-exact
//! with the reference: four output features per read of the input row. Each weight row is
//! read once per input row, so the zero point is handled as the dot products do it best
//! ([`Dot::dot4_centered`]); any way is exact in wrapping int32 arithmetic.

use crate::kernels::conv::{Dot, QuantOut};
use crate::kernels::fixedpoint::requantize;
use crate::kernels::{chunks, chunks_mut};

/// [`super::dense_i8`] with the dot products of `D`; lengths were checked by the caller.
pub(crate) fn dense_i8<D: Dot>(
    in_features: usize,
    out_features: usize,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    if in_features == 0 || out_features == 0 {
        // Nothing to multiply: the reference handles the degenerate shapes.
        return super::reference::dense_i8(
            in_features,
            out_features,
            q,
            input,
            weights,
            bias,
            output,
        );
    }
    let row = |o: usize| {
        let at = o * in_features;
        weights.get(at..at + in_features).unwrap_or(&[])
    };
    for (x, y) in chunks(input, in_features).zip(chunks_mut(output, out_features)) {
        let mut o = 0;
        while o < out_features {
            let count = (out_features - o).min(4);
            let rows = [0, 1, 2, 3].map(|i| row(o + i.min(count - 1)));
            let dots = D::dot4_centered(x, rows, q.input_zp);
            for (i, &dot) in dots.iter().enumerate().take(count) {
                let bias = bias.and_then(|b| b.get(o + i)).copied().unwrap_or(0);
                if let Some(out) = y.get_mut(o + i) {
                    *out = requantize(bias.wrapping_add(dot), q, o + i);
                }
            }
            o += count;
        }
    }
}
