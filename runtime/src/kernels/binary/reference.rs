//! Scalar reference element-wise binary operators: the specification.

use super::apply;
use crate::format::{Activation, BinaryKind, BinaryKindI8, MAX_RANK};
use crate::kernels::Src;
use crate::kernels::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};

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

/// `output[i] = f(a[..], b[..])` over the output's index space with NumPy broadcasting.
/// Shapes are padded to `MAX_RANK` and were checked by the caller.
pub fn broadcast<T: Copy>(
    dims: [&[u32; MAX_RANK]; 3],
    a: Src<'_, T>,
    b: Src<'_, T>,
    output: &mut [T],
    f: impl Fn(T, T) -> T,
) {
    let [a_dims, b_dims, out_dims] = dims;
    let (a_strides, b_strides) = (strides(a_dims, out_dims), strides(b_dims, out_dims));
    let mut index = [0usize; MAX_RANK];
    let (mut a_at, mut b_at) = (0usize, 0usize);
    for y in output.iter_mut() {
        // An operand in place is the output element itself, read before it is overwritten.
        let read = |src: &Src<'_, T>, at: usize| match src {
            Src::Slice(s) => s.get(at).copied(),
            Src::Output => Some(*y),
        };
        let (Some(u), Some(v)) = (read(&a, a_at), read(&b, b_at)) else {
            return; // not with the lengths the caller checked
        };
        *y = f(u, v);
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

/// float32 binary operator with a fused activation.
pub fn binary_f32(
    kind: BinaryKind,
    act: Activation,
    dims: [&[u32; MAX_RANK]; 3],
    a: Src<'_, f32>,
    b: Src<'_, f32>,
    output: &mut [f32],
) {
    broadcast(dims, a, b, output, |x, y| act.apply(apply(kind, x, y)));
}

/// The term operand value `v` adds to an int8 `Add`/`Sub`: `(v - zp) << left_shift`,
/// rescaled by `scale`.
#[inline(always)]
pub(super) fn term(p: &super::QuantBinary, v: i8, zp: i32, (m, s): (i32, i32)) -> i32 {
    let shift = u32::from(p.left_shift.min(20));
    multiply_by_quantized_multiplier((i32::from(v) - zp) << shift, m, s)
}

/// The output of an int8 binary operator from its accumulated value: rescaled, plus the
/// output zero point, clamped to the activation range.
#[inline(always)]
pub(super) fn finish(p: &super::QuantBinary, v: i32) -> i8 {
    let (m, s) = p.out_scale;
    clamp_i8(
        multiply_by_quantized_multiplier(v, m, s).wrapping_add(p.zero_points[2]),
        p.act_min,
        p.act_max,
    )
}

/// int8 binary operator (TFLite `ADD`/`SUB`/`MUL` arithmetic).
pub fn binary_i8(
    p: &super::QuantBinary,
    dims: [&[u32; MAX_RANK]; 3],
    a: Src<'_, i8>,
    b: Src<'_, i8>,
    output: &mut [i8],
) {
    let [a_zp, b_zp, _] = p.zero_points;
    match p.kind {
        BinaryKindI8::Add | BinaryKindI8::Sub => {
            let sign = if p.kind == BinaryKindI8::Sub { -1 } else { 1 };
            broadcast(dims, a, b, output, |x, y| {
                let xa = term(p, x, a_zp, p.a_scale);
                let yb = term(p, y, b_zp, p.b_scale);
                finish(p, xa.wrapping_add(yb.wrapping_mul(sign)))
            });
        }
        BinaryKindI8::Mul => {
            broadcast(dims, a, b, output, |x, y| {
                finish(p, (i32::from(x) - a_zp) * (i32::from(y) - b_zp))
            });
        }
    }
}
