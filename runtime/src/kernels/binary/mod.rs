//! Element-wise binary operators with NumPy broadcasting.

#[cfg(whittle_avx2)]
mod avx2;
mod reference;
mod tables;

use super::{LengthMismatch, Src, Variant, expect_len};
use crate::format::{Activation, BinaryKind, BinaryKindI8, MAX_RANK, Shape};

/// Checks the shapes and lengths of a broadcasting operator and pads the shapes.
fn checked_dims<T>(
    shapes: [&Shape; 3],
    a: &Src<'_, T>,
    b: &Src<'_, T>,
    output_len: usize,
) -> Result<[[u32; MAX_RANK]; 3], LengthMismatch> {
    let [a_shape, b_shape, out_shape] = shapes;
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
    expect_len(output_len, len(out_shape))?;
    expect_len(a.len_or(output_len), len(a_shape))?;
    expect_len(b.len_or(output_len), len(b_shape))?;
    if (matches!(a, Src::Output) && ap != op) || (matches!(b, Src::Output) && bp != op) {
        return Err(LengthMismatch);
    }
    Ok([ap, bp, op])
}

/// `output = act(a <kind> b)`. Shapes (`[a, b, output]`) have equal rank; each operand
/// dimension equals the output's or is 1. An operand given as [`Src::Output`] must have the
/// output's shape.
pub fn binary_f32(
    kind: BinaryKind,
    act: Activation,
    shapes: [&Shape; 3],
    a: Src<'_, f32>,
    b: Src<'_, f32>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let [ap, bp, op] = checked_dims(shapes, &a, &b, output.len())?;
    reference::binary_f32(kind, act, [&ap, &bp, &op], a, b, output);
    Ok(())
}

/// Quantization parameters of an int8 binary operator (see [`crate::format::BinaryI8`]).
#[derive(Debug, Clone, Copy)]
pub struct QuantBinary {
    /// Add, Sub or Mul.
    pub kind: BinaryKindI8,
    /// Zero points of `a`, `b`, output.
    pub zero_points: [i32; 3],
    /// Rescale of `a` (Add/Sub).
    pub a_scale: (i32, i32),
    /// Rescale of `b` (Add/Sub).
    pub b_scale: (i32, i32),
    /// Rescale of the result.
    pub out_scale: (i32, i32),
    /// Extra precision bits for Add/Sub (at most 20).
    pub left_shift: u8,
    /// Lowest output value.
    pub act_min: i8,
    /// Highest output value.
    pub act_max: i8,
}

/// int8 `a <kind> b` with broadcasting, TFLite arithmetic. Runs [`Variant::selected`].
pub fn binary_i8(
    q: &QuantBinary,
    shapes: [&Shape; 3],
    a: Src<'_, i8>,
    b: Src<'_, i8>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    binary_i8_variant(Variant::selected(), q, shapes, a, b, output)
}

/// [`binary_i8`] computed by `variant`; every variant gives the same bits. On 64-bit targets
/// the optimized variants add and subtract operands of the output's shape through tables of
/// each operand's 256 rescaled terms (from 1,024 elements); everything else runs the
/// reference.
pub fn binary_i8_variant(
    variant: Variant,
    q: &QuantBinary,
    shapes: [&Shape; 3],
    a: Src<'_, i8>,
    b: Src<'_, i8>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let [ap, bp, op] = checked_dims(shapes, &a, &b, output.len())?;
    let tables = uses_tables(variant, q.kind, shapes);
    if tables {
        tables::add_sub_i8(q, a, b, output);
    } else {
        reference::binary_i8(q, [&ap, &bp, &op], a, b, output);
    }
    Ok(())
}

/// Whether [`binary_i8_variant`] computes `kind` over operands and output of these shapes
/// through tables (`whittle bench` names it `tables`): on a 64-bit target, an optimized
/// variant, Add or Sub, both operands of the output's shape, at least 1,024 elements.
pub fn uses_tables(variant: Variant, kind: BinaryKindI8, [a, b, out]: [&Shape; 3]) -> bool {
    let elements = out.elements().and_then(|e| usize::try_from(e).ok());
    cfg!(target_pointer_width = "64")
        && variant != Variant::Reference
        && matches!(kind, BinaryKindI8::Add | BinaryKindI8::Sub)
        && a.rank() == out.rank()
        && b.rank() == out.rank()
        && a.padded() == out.padded()
        && b.padded() == out.padded()
        && elements.is_some_and(|n| n >= tables::MIN_LEN)
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
