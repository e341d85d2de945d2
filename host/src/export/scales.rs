//! Recovering the float scales an integer operator was built from. The artifact keeps only
//! what the integer kernels need: per output channel, the requantization multiplier
//! `input_scale * weight_scale[c] / output_scale` as a Q31 multiplier and a shift. With the
//! input's and the output's scales from the tensor table, each weight scale follows.

use super::ExportError;
use super::graph::Exporter;
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::format::{BinaryI8, BinaryKindI8, Requant, TensorQuant};

/// The real number a Q31 multiplier and shift encode: `multiplier * 2^shift / 2^31`.
pub fn real_multiplier(multiplier: i32, shift: i32) -> f64 {
    f64::from(multiplier) * 2f64.powi(shift - 31)
}

/// Per-channel weight scales (one value when the requantization is per tensor).
pub fn weight_scales(
    x: &Exporter<'_>,
    requant: &Requant,
    channels: u32,
    input: TensorQuant,
    output: TensorQuant,
) -> Result<Vec<f32>, ExportError> {
    let multipliers = x.i32s(requant.multipliers)?;
    let shifts = x.i8s(requant.shifts)?;
    let n = multipliers.len();
    if n != shifts.len() || (n != 1 && n != channels as usize) {
        return Err(x.fail(format!(
            "{n} requantization multipliers and {} shifts for {channels} channels",
            shifts.len()
        )));
    }
    if !(input.scale > 0.0 && output.scale > 0.0) {
        return Err(x.fail(format!(
            "input scale {} and output scale {} must be positive",
            input.scale, output.scale
        )));
    }
    let ratio = f64::from(output.scale) / f64::from(input.scale);
    Ok(multipliers
        .iter()
        .zip(&shifts)
        .map(|(&m, &s)| {
            let scale = (real_multiplier(m, i32::from(s)) * ratio) as f32;
            // A zero multiplier makes the channel's output its zero point whatever the
            // weights; ONNX wants a positive scale, and the smallest one keeps the product
            // (and the bias's contribution) at zero.
            if scale > 0.0 {
                scale
            } else {
                f32::MIN_POSITIVE
            }
        })
        .collect())
}

/// `DequantizeLinear` of a constant integer tensor (`dtype` I8 or I32, zero point 0) with one
/// scale per slice along `axis`, or one for the whole tensor.
pub fn dq_const(
    x: &mut Exporter<'_>,
    what: &str,
    dtype: ElemType,
    shape: Vec<usize>,
    data: Vec<i64>,
    scales: &[f32],
    axis: i64,
) -> String {
    let q = x.konst(what, &Tensor::int(dtype, shape, data));
    let per_channel = scales.len() > 1;
    let dims = if per_channel {
        vec![scales.len()]
    } else {
        vec![]
    };
    let s = x.konst("scale", &Tensor::f32(dims.clone(), scales.to_vec()));
    let z = x.konst(
        "zero_point",
        &Tensor::int(dtype, dims, vec![0; scales.len()]),
    );
    let attrs = if per_channel {
        vec![("axis", crate::onnx::build::Attr::Int(axis))]
    } else {
        vec![]
    };
    x.b.node("DequantizeLinear", &[&q, &s, &z], attrs)
}

/// The fused activation `act_min..=act_max` of an int8 operator as float bounds before the
/// output's `QuantizeLinear` (which then clamps to the same integers); `None` where the bound
/// is the int8 range's own.
pub fn act_bounds(act_min: i8, act_max: i8, out: TensorQuant) -> (Option<f32>, Option<f32>) {
    let real = |q: i8| (i32::from(q) - out.zero_point) as f32 * out.scale;
    (
        (act_min > i8::MIN).then(|| real(act_min)),
        (act_max < i8::MAX).then(|| real(act_max)),
    )
}

/// The scale of a `BinaryI8` operand that is a constant the tensor table does not list (the
/// compiler quantizes such constants in place and records their scale only in the kernel's
/// rescale multipliers), from the other operand's scale and the output's.
///
/// Mul rescales the product by `a * b / out`; Add and Sub rescale each operand by its scale
/// over a common `2 * max(a, b)`, so the two operands' multipliers are in the ratio of their
/// scales.
pub fn binary_constant_scale(
    op: &BinaryI8,
    constant_is_a: bool,
    other: f32,
    out: f32,
) -> Option<f32> {
    let real = |(m, s): (i32, i32)| real_multiplier(m, s);
    let (mine, theirs) = if constant_is_a {
        (op.a_scale, op.b_scale)
    } else {
        (op.b_scale, op.a_scale)
    };
    let scale = match op.kind {
        BinaryKindI8::Mul => real(op.out_scale) * f64::from(out) / f64::from(other),
        BinaryKindI8::Add | BinaryKindI8::Sub => real(mine) * f64::from(other) / real(theirs),
    } as f32;
    (scale.is_finite() && scale > 0.0).then_some(scale)
}
