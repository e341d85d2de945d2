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
    for ((out_dim, stride), &axis) in out_dims.iter_mut().zip(&mut strides).zip(perm) {
        let axis = usize::from(axis);
        *out_dim = dims.get(axis).map_or(0, |&d| d as usize);
        *stride = in_strides.get(axis).copied().unwrap_or(0);
    }
    let mut index = [0usize; MAX_RANK];
    let mut at = 0usize;
    for y in output.iter_mut() {
        let Some(&x) = input.get(at) else {
            return; // not with the lengths the caller checked
        };
        *y = x;
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
