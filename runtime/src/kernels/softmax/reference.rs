//! Scalar reference softmax: the specification.

/// Lengths were checked by the caller.
pub fn softmax_f32(axis: usize, inner: usize, log: bool, input: &[f32], output: &mut [f32]) {
    let block = axis * inner;
    if block == 0 {
        return;
    }
    for (x, y) in input
        .chunks_exact(block)
        .zip(output.chunks_exact_mut(block))
    {
        for i in 0..inner {
            let mut max = f32::NEG_INFINITY;
            for a in 0..axis {
                max = max.max(x[a * inner + i]);
            }
            let mut sum = 0.0f32;
            for a in 0..axis {
                let e = libm::expf(x[a * inner + i] - max);
                y[a * inner + i] = e;
                sum += e;
            }
            if log {
                let log_sum = libm::logf(sum);
                for a in 0..axis {
                    y[a * inner + i] = x[a * inner + i] - max - log_sum;
                }
            } else {
                let inv = 1.0 / sum;
                for a in 0..axis {
                    y[a * inner + i] *= inv;
                }
            }
        }
    }
}
