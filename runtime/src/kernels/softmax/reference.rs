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

/// Lengths were checked by the caller, and `axis <= MAX_AXIS_I8`: with `e <= 65536`, the sum
/// is below `2^32` and `e * 256 + sum / 2` below `2^24 + 2^31`, so 32-bit arithmetic is exact.
pub fn softmax_i8(axis: usize, inner: usize, table: &[u16], input: &[i8], output: &mut [i8]) {
    let exp = |d: usize| {
        if d == 0 {
            65536
        } else {
            table.get(d - 1).map_or(0, |&v| u32::from(v))
        }
    };
    let block = axis * inner;
    if block == 0 {
        return;
    }
    for (x, y) in input
        .chunks_exact(block)
        .zip(output.chunks_exact_mut(block))
    {
        for i in 0..inner {
            let max = (0..axis)
                .map(|a| i32::from(x[a * inner + i]))
                .max()
                .unwrap_or(0);
            let e = |a: usize| exp((max - i32::from(x[a * inner + i])) as usize);
            let sum = (0..axis).fold(0u32, |s, a| s.wrapping_add(e(a))).max(1);
            for a in 0..axis {
                let q = (e(a) * 256 + sum / 2) / sum;
                y[a * inner + i] = (q.min(255) as i32 - 128) as i8;
            }
        }
    }
}
