//! Parameters of the integer (int8) operators. Activations are int8 with a per-tensor zero
//! point; weights are int8, symmetric, per output channel; biases are int32; results are
//! requantized by a Q31 multiplier and a shift ([`crate::kernels::fixedpoint`]) and clamped to
//! `act_min..=act_max` (the fused activation, in the quantized domain).

use super::params::{ConvGeometry, PoolGeometry, PoolKind};
use super::{Buf, Shape};
use serde::{Deserialize, Serialize};

/// Requantization parameters: `multipliers` (i32) and `shifts` (i8), one per output channel
/// or a single one for the whole tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requant {
    /// Q31 multipliers, `[n]` i32.
    pub multipliers: Buf,
    /// Power-of-two exponents (positive: left shift), `[n]` i8.
    pub shifts: Buf,
}

/// int8 2-D convolution, NHWC; weights `[out_c][kernel_h][kernel_w][in_c / groups]` int8.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conv2dI8 {
    /// NHWC int8 input.
    pub input: Buf,
    /// int8 weights.
    pub weights: Buf,
    /// Optional `[out_c]` int32 bias (in units of input scale x weight scale).
    pub bias: Option<Buf>,
    /// NHWC int8 output.
    pub output: Buf,
    /// Shapes, strides, padding, groups.
    pub geom: ConvGeometry,
    /// Per-channel (or per-tensor) requantization.
    pub requant: Requant,
    /// Input zero point (padding reads as this value).
    pub input_zp: i32,
    /// Output zero point.
    pub output_zp: i32,
    /// Lowest output value (fused activation).
    pub act_min: i8,
    /// Highest output value (fused activation).
    pub act_max: i8,
}

/// int8 fully connected layer; weights `[out_features][in_features]` int8.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DenseI8 {
    /// `[rows][in_features]` int8.
    pub input: Buf,
    /// int8 weights.
    pub weights: Buf,
    /// Optional `[out_features]` int32 bias.
    pub bias: Option<Buf>,
    /// `[rows][out_features]` int8.
    pub output: Buf,
    /// Rows (batch).
    pub rows: u32,
    /// Input features.
    pub in_features: u32,
    /// Output features.
    pub out_features: u32,
    /// Per-channel (or per-tensor) requantization.
    pub requant: Requant,
    /// Input zero point.
    pub input_zp: i32,
    /// Output zero point.
    pub output_zp: i32,
    /// Lowest output value.
    pub act_min: i8,
    /// Highest output value.
    pub act_max: i8,
}

/// Integer element-wise binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryKindI8 {
    /// TFLite `ADD`: both operands rescaled to a common scale with 20 extra bits, summed,
    /// rescaled to the output.
    Add,
    /// As `Add`, with the second operand negated.
    Sub,
    /// TFLite `MUL`: `(a - a_zp) * (b - b_zp)` rescaled to the output.
    Mul,
}

/// int8 element-wise binary operator with broadcasting (shapes as in [`super::Binary`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinaryI8 {
    /// Which operator.
    pub kind: BinaryKindI8,
    /// Left operand.
    pub a: Buf,
    /// Right operand.
    pub b: Buf,
    /// Result.
    pub output: Buf,
    /// Shape of `a`.
    pub a_shape: Shape,
    /// Shape of `b`.
    pub b_shape: Shape,
    /// Shape of the result.
    pub out_shape: Shape,
    /// Zero points of `a`, `b` and the output.
    pub zero_points: [i32; 3],
    /// `a` rescale (Add/Sub): multiplier, shift.
    pub a_scale: (i32, i32),
    /// `b` rescale (Add/Sub): multiplier, shift.
    pub b_scale: (i32, i32),
    /// Output rescale: multiplier, shift.
    pub out_scale: (i32, i32),
    /// Extra precision bits the operands are shifted left by before rescaling (Add/Sub).
    pub left_shift: u8,
    /// Lowest output value.
    pub act_min: i8,
    /// Highest output value.
    pub act_max: i8,
}

/// int8 max or average pooling, NHWC; input and output share scale and zero point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pool2dI8 {
    /// Reduction (`count_include_pad` counts padding as the zero point).
    pub kind: PoolKind,
    /// NHWC input.
    pub input: Buf,
    /// NHWC output.
    pub output: Buf,
    /// Window geometry.
    pub geom: PoolGeometry,
    /// Zero point of input and output.
    pub zero_point: i32,
    /// Lowest output value.
    pub act_min: i8,
    /// Highest output value.
    pub act_max: i8,
}

/// int8 softmax over the middle axis of `[outer][axis][inner]`, output scale 1/256 and zero
/// point -128. `table[d - 1]` (u16) is `exp(-d * input_scale)` in Q16 for `d` in `1..=n`
/// (`n <= 255`), built by the compiler for the input's scale; `d = 0` is 65536 and `d > n`
/// is 0 (the compiler drops the trailing zeros).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxI8 {
    /// Input.
    pub input: Buf,
    /// Output.
    pub output: Buf,
    /// Product of the dimensions before the axis.
    pub outer: u32,
    /// Length of the axis.
    pub axis: u32,
    /// Product of the dimensions after the axis.
    pub inner: u32,
    /// Exponential table, `[n]` u16.
    pub table: Buf,
}

/// Any int8 -> int8 element-wise function as a 256-entry table indexed by `x + 128`
/// (sigmoid, tanh, hard-swish, stand-alone activations ...). May run in place.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LookupI8 {
    /// Input.
    pub input: Buf,
    /// Output.
    pub output: Buf,
    /// Number of elements.
    pub len: u32,
    /// `[256]` int8 table.
    pub table: Buf,
}

/// int8 -> int8 change of scale and zero point. May run in place.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RequantizeI8 {
    /// Input.
    pub input: Buf,
    /// Output.
    pub output: Buf,
    /// Number of elements.
    pub len: u32,
    /// Input zero point.
    pub input_zp: i32,
    /// Output zero point.
    pub output_zp: i32,
    /// Multiplier and shift of `input_scale / output_scale`.
    pub scale: (i32, i32),
}

/// float32 -> int8: `clamp(round_half_even(x / scale) + zero_point)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantize {
    /// f32 input.
    pub input: Buf,
    /// int8 output.
    pub output: Buf,
    /// Number of elements.
    pub len: u32,
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

/// int8 -> float32: `(q - zero_point) * scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dequantize {
    /// int8 input.
    pub input: Buf,
    /// f32 output.
    pub output: Buf,
    /// Number of elements.
    pub len: u32,
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}
