//! Scalar reference fully connected layer: the specification. Every optimized variant must
//! give the same results (bit for bit for int8). Lengths are checked by `mod.rs`.

use crate::format::Activation;

/// Lengths were checked by the caller.
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
            *y = act.apply(bias.map_or(0.0, |b| b[o % out_features.max(1)]));
        }
        return;
    }
    for (x, y) in input
        .chunks_exact(in_features)
        .zip(output.chunks_exact_mut(out_features.max(1)))
    {
        for (o, (out, w)) in y
            .iter_mut()
            .zip(weights.chunks_exact(in_features))
            .enumerate()
        {
            let mut acc = bias.map_or(0.0, |b| b[o]);
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
    if out_features == 0 {
        return;
    }
    let rows = output.len() / out_features;
    for r in 0..rows {
        let x = &input[r * in_features..(r + 1) * in_features];
        for o in 0..out_features {
            let w = &weights[o * in_features..(o + 1) * in_features];
            let mut acc = bias.map_or(0, |b| b[o]);
            for (&xv, &wv) in x.iter().zip(w) {
                acc = acc.wrapping_add((i32::from(xv) - q.input_zp) * i32::from(wv));
            }
            output[r * out_features + o] = requantize(acc, q, o);
        }
    }
}
