//! Scalar reference element-wise binary operators: the specification.

use super::apply;
use crate::format::{Activation, BinaryKind, MAX_RANK};
use crate::kernels::Src;

/// Element strides of an operand inside the output's index space (0 where it broadcasts).
fn strides(dims: &[u32; MAX_RANK], out: &[u32; MAX_RANK]) -> [usize; MAX_RANK] {
    let mut strides = [0usize; MAX_RANK];
    let mut step = 1usize;
    for d in (0..MAX_RANK).rev() {
        strides[d] = if dims[d] == 1 && out[d] != 1 { 0 } else { step };
        step *= dims[d] as usize;
    }
    strides
}

/// Shapes are padded to `MAX_RANK` and were checked by the caller.
// The output is indexed (not iterated) because in-place operands read it too.
#[allow(clippy::needless_range_loop)]
#[allow(clippy::too_many_arguments)]
pub fn binary_f32(
    kind: BinaryKind,
    act: Activation,
    a_dims: &[u32; MAX_RANK],
    b_dims: &[u32; MAX_RANK],
    out_dims: &[u32; MAX_RANK],
    a: Src<'_, f32>,
    b: Src<'_, f32>,
    output: &mut [f32],
) {
    let (a_strides, b_strides) = (strides(a_dims, out_dims), strides(b_dims, out_dims));
    let mut index = [0usize; MAX_RANK];
    let (mut a_at, mut b_at) = (0usize, 0usize);
    for o in 0..output.len() {
        let x = match a {
            Src::Slice(s) => s[a_at],
            Src::Output => output[o],
        };
        let y = match b {
            Src::Slice(s) => s[b_at],
            Src::Output => output[o],
        };
        output[o] = act.apply(apply(kind, x, y));
        // Advance the multi-index, moving each operand's position along.
        for d in (0..MAX_RANK).rev() {
            index[d] += 1;
            a_at += a_strides[d];
            b_at += b_strides[d];
            if index[d] < out_dims[d] as usize {
                break;
            }
            a_at -= a_strides[d] * index[d];
            b_at -= b_strides[d] * index[d];
            index[d] = 0;
        }
    }
}
