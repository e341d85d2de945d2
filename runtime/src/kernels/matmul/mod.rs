//! Batched matrix product with broadcast batch dimensions.

mod reference;

use super::{LengthMismatch, expect_len};
use crate::format::{MAX_RANK, Shape};

/// `output[.., m, n] = sum_k a[.., m, k] * b[.., k, n]`. The shapes have equal rank (>= 2);
/// each batch dimension of `a` and `b` equals the output's or is 1.
pub fn matmul_f32(
    a_shape: &Shape,
    b_shape: &Shape,
    out_shape: &Shape,
    a: &[f32],
    b: &[f32],
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let rank = out_shape.rank();
    if rank < 2 || a_shape.rank() != rank || b_shape.rank() != rank {
        return Err(LengthMismatch);
    }
    let (ap, bp, op) = (a_shape.padded(), b_shape.padded(), out_shape.padded());
    let (m, k, n) = (ap[MAX_RANK - 2], ap[MAX_RANK - 1], bp[MAX_RANK - 1]);
    if bp[MAX_RANK - 2] != k || op[MAX_RANK - 2] != m || op[MAX_RANK - 1] != n {
        return Err(LengthMismatch);
    }
    let batch_dims = ap.iter().zip(&bp).zip(&op).take(MAX_RANK - 2);
    for ((&a_dim, &b_dim), &out_dim) in batch_dims {
        let ok = |dim: u32| dim == out_dim || dim == 1;
        if !ok(a_dim) || !ok(b_dim) {
            return Err(LengthMismatch);
        }
    }
    let len = |s: &Shape| s.elements().and_then(|e| usize::try_from(e).ok());
    expect_len(a.len(), len(a_shape))?;
    expect_len(b.len(), len(b_shape))?;
    expect_len(output.len(), len(out_shape))?;
    reference::matmul_f32(&ap, &bp, &op, a, b, output);
    Ok(())
}
