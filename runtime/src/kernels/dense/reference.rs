//! Scalar reference fully connected layer: the specification. Every optimized variant must
//! give the same results (bit for bit for int8). Lengths are checked by `mod.rs`.

use crate::format::Activation;
use crate::kernels::{chunks, chunks_mut};

/// Lengths were checked by the caller (a read past them would contribute nothing).
pub fn dense_f32(
    in_features: usize,
    out_features: usize,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    if in_features == 0 {
        for (o, y) in output.iter_mut().enumerate() {
            let b = bias.and_then(|b| b.get(o % out_features.max(1)));
            *y = act.apply(b.map_or(0.0, |&b| b));
        }
        return;
    }
    for (x, y) in chunks(input, in_features).zip(chunks_mut(output, out_features)) {
        for (o, (out, w)) in y.iter_mut().zip(chunks(weights, in_features)).enumerate() {
            let mut acc = bias.and_then(|b| b.get(o)).map_or(0.0, |&b| b);
            for (xv, wv) in x.iter().zip(w) {
                acc += xv * wv;
            }
            *out = act.apply(acc);
        }
    }
}

/// int8 fully connected; lengths were checked by the caller.
pub fn dense_i8(
    in_features: usize,
    out_features: usize,
    q: &crate::kernels::conv::QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    use crate::kernels::fixedpoint::requantize;
    for (r, y) in chunks_mut(output, out_features).enumerate() {
        let x = input
            .get(r * in_features..(r + 1) * in_features)
            .unwrap_or(&[]);
        for (o, out) in y.iter_mut().enumerate() {
            let w = weights
                .get(o * in_features..(o + 1) * in_features)
                .unwrap_or(&[]);
            let mut acc = bias.and_then(|b| b.get(o)).map_or(0, |&b| b);
            for (&xv, &wv) in x.iter().zip(w) {
                acc = acc.wrapping_add((i32::from(xv) - q.input_zp) * i32::from(wv));
            }
            *out = requantize(acc, q, o);
        }
    }
}
