//! Scalar reference constant padding: the specification.

use crate::format::MAX_RANK;

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
        output[0] = input[0];
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
    for src in input.chunks_exact(row) {
        let mut at = begin[rank - 1] as usize;
        for d in 0..rank - 1 {
            at += (index[d] + begin[d] as usize) * out_strides[d];
        }
        output[at..at + row].copy_from_slice(src);
        for d in (0..rank - 1).rev() {
            index[d] += 1;
            if index[d] < in_dims[d] as usize {
                break;
            }
            index[d] = 0;
        }
    }
}
