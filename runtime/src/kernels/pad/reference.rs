//! Scalar reference constant padding: the specification.

use crate::format::MAX_RANK;
use crate::kernels::{chunks, copy};

/// Shapes were checked by the caller: `begin[d] + in_dims[d] <= out_dims[d]`.
pub fn pad<T: Copy>(
    in_dims: &[u32],
    out_dims: &[u32],
    begin: &[u32],
    value: T,
    input: &[T],
    output: &mut [T],
) {
    output.fill(value);
    let rank = in_dims.len();
    if input.is_empty() {
        return;
    }
    if rank == 0 {
        if let (Some(y), Some(&x)) = (output.first_mut(), input.first()) {
            *y = x;
        }
        return;
    }
    let row = in_dims[rank - 1] as usize;
    let mut out_strides = [0usize; MAX_RANK];
    let mut step = 1usize;
    for d in (0..rank).rev() {
        out_strides[d] = step;
        step *= out_dims[d] as usize;
    }
    // Walk the input one innermost row at a time.
    let mut index = [0usize; MAX_RANK];
    for src in chunks(input, row) {
        let mut at = begin[rank - 1] as usize;
        for d in 0..rank - 1 {
            at += (index[d] + begin[d] as usize) * out_strides[d];
        }
        let Some(dst) = output.get_mut(at..at + row) else {
            return;
        };
        copy(dst, src);
        for d in (0..rank - 1).rev() {
            index[d] += 1;
            if index[d] < in_dims[d] as usize {
                break;
            }
            index[d] = 0;
        }
    }
}
