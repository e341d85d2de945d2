//! Scalar reference fully connected layer: the specification.

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
