//! Scalar reference transpose: the specification.

use crate::format::MAX_RANK;

/// `perm` is a valid permutation of `0..dims.len()` and lengths were checked by the caller.
pub fn transpose<T: Copy>(dims: &[u32], perm: &[u8], input: &[T], output: &mut [T]) {
    let rank = dims.len();
    let mut in_strides = [0usize; MAX_RANK];
    let mut step = 1usize;
    for d in (0..rank).rev() {
        in_strides[d] = step;
        step *= dims[d] as usize;
    }
    // Output axis i walks input axis perm[i].
    let mut out_dims = [0usize; MAX_RANK];
    let mut strides = [0usize; MAX_RANK];
    for i in 0..rank {
        out_dims[i] = dims[usize::from(perm[i])] as usize;
        strides[i] = in_strides[usize::from(perm[i])];
    }
    let mut index = [0usize; MAX_RANK];
    let mut at = 0usize;
    for y in output.iter_mut() {
        *y = input[at];
        for d in (0..rank).rev() {
            index[d] += 1;
            at += strides[d];
            if index[d] < out_dims[d] {
                break;
            }
            at -= strides[d] * index[d];
            index[d] = 0;
        }
    }
}
