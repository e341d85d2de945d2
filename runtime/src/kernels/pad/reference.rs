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
    if input.is_empty() {
        return;
    }
    let mut out_strides = [0usize; MAX_RANK];
    let mut step = 1usize;
    for (stride, &dim) in out_strides.iter_mut().zip(out_dims).rev() {
        *stride = step;
        step *= dim as usize;
    }
    let (Some((&row, outer)), Some((&row_begin, outer_begin))) =
        (in_dims.split_last(), begin.split_last())
    else {
        // A scalar: its one element.
        if let (Some(y), Some(&x)) = (output.first_mut(), input.first()) {
            *y = x;
        }
        return;
    };
    let row = row as usize;
    // Walk the input one innermost row at a time; `index` is the row's position in `outer`.
    let mut index = [0usize; MAX_RANK];
    for src in chunks(input, row) {
        let at = index
            .iter()
            .zip(outer_begin)
            .zip(&out_strides)
            .fold(row_begin as usize, |at, ((&i, &b), &stride)| {
                at + (i + b as usize) * stride
            });
        let Some(dst) = output.get_mut(at..at + row) else {
            return;
        };
        copy(dst, src);
        for (i, &dim) in index.iter_mut().zip(outer).rev() {
            *i += 1;
            if *i < dim as usize {
                break;
            }
            *i = 0;
        }
    }
}
