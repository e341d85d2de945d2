//! Element-wise binary operators with NumPy broadcasting.

mod reference;

use super::{LengthMismatch, Src, expect_len};
use crate::format::{Activation, BinaryKind, MAX_RANK, Shape};

/// `output = act(a <kind> b)`. Shapes have equal rank; each operand dimension equals the
/// output's or is 1. An operand given as [`Src::Output`] must have the output's shape.
#[allow(clippy::too_many_arguments)]
pub fn binary_f32(
    kind: BinaryKind,
    act: Activation,
    a_shape: &Shape,
    b_shape: &Shape,
    out_shape: &Shape,
    a: Src<'_, f32>,
    b: Src<'_, f32>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let rank = out_shape.rank();
    if a_shape.rank() != rank || b_shape.rank() != rank {
        return Err(LengthMismatch);
    }
    let (ap, bp, op) = (a_shape.padded(), b_shape.padded(), out_shape.padded());
    for d in 0..MAX_RANK {
        if (ap[d] != op[d] && ap[d] != 1) || (bp[d] != op[d] && bp[d] != 1) {
            return Err(LengthMismatch);
        }
    }
    let len = |s: &Shape| s.elements().and_then(|e| usize::try_from(e).ok());
    expect_len(output.len(), len(out_shape))?;
    expect_len(a.len_or(output.len()), len(a_shape))?;
    expect_len(b.len_or(output.len()), len(b_shape))?;
    if (matches!(a, Src::Output) && ap != op) || (matches!(b, Src::Output) && bp != op) {
        return Err(LengthMismatch);
    }
    reference::binary_f32(kind, act, &ap, &bp, &op, a, b, output);
    Ok(())
}

/// Applies one binary operator to two values.
#[inline(always)]
pub fn apply(kind: BinaryKind, a: f32, b: f32) -> f32 {
    match kind {
        BinaryKind::Add => a + b,
        BinaryKind::Sub => a - b,
        BinaryKind::Mul => a * b,
        BinaryKind::Div => a / b,
        BinaryKind::Max => a.max(b),
        BinaryKind::Min => a.min(b),
    }
}
