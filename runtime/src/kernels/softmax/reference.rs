//! Scalar reference softmax: the specification.

use crate::kernels::{chunks, chunks_mut};

/// Element `i` of every row of `inner` values in `block`: one vector along the axis of a
/// `[axis][inner]` block.
fn along<T: Copy>(block: &[T], inner: usize, i: usize) -> impl Iterator<Item = T> + '_ {
    chunks(block, inner).filter_map(move |row| row.get(i).copied())
}

/// [`along`], the elements to write.
fn along_mut<T>(block: &mut [T], inner: usize, i: usize) -> impl Iterator<Item = &mut T> {
    chunks_mut(block, inner).filter_map(move |row| row.get_mut(i))
}

/// Lengths were checked by the caller.
pub fn softmax_f32(axis: usize, inner: usize, log: bool, input: &[f32], output: &mut [f32]) {
    let block = axis * inner;
    for (x, y) in chunks(input, block).zip(chunks_mut(output, block)) {
        for i in 0..inner {
            let max = along(x, inner, i).fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for (v, out) in along(x, inner, i).zip(along_mut(y, inner, i)) {
                let e = libm::expf(v - max);
                *out = e;
                sum += e;
            }
            if log {
                let log_sum = libm::logf(sum);
                for (v, out) in along(x, inner, i).zip(along_mut(y, inner, i)) {
                    *out = v - max - log_sum;
                }
            } else {
                let inv = 1.0 / sum;
                for out in along_mut(y, inner, i) {
                    *out *= inv;
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
    for (x, y) in chunks(input, block).zip(chunks_mut(output, block)) {
        for i in 0..inner {
            let max = along(x, inner, i).map(i32::from).max().unwrap_or(0);
            let e = |v: i8| exp((max - i32::from(v)) as usize);
            let sum = along(x, inner, i)
                .fold(0u32, |s, v| s.wrapping_add(e(v)))
                .max(1);
            for (v, out) in along(x, inner, i).zip(along_mut(y, inner, i)) {
                let q = (e(v) * 256 + sum / 2) / sum;
                *out = (q.min(255) as i32 - 128) as i8;
            }
        }
    }
}
