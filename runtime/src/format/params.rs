//! Parameters of the float operators and of the data-movement operators (any element type),
//! and the geometry types the integer operators share.

use super::{Buf, MAX_RANK, Shape};
use crate::DType;
use serde::{Deserialize, Serialize};

/// An activation fused into the producing operator.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Activation {
    /// Identity.
    None,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)` (ReLU6 is `Clip { min: 0, max: 6 }`).
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

impl Activation {
    /// Applies the activation to one value.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clip { min, max } => x.max(min).min(max),
        }
    }
}

/// Geometry of a 2-D convolution over NHWC data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConvGeometry {
    /// Batch size.
    pub batch: u32,
    /// Input height.
    pub in_h: u32,
    /// Input width.
    pub in_w: u32,
    /// Input channels.
    pub in_c: u32,
    /// Output height.
    pub out_h: u32,
    /// Output width.
    pub out_w: u32,
    /// Output channels.
    pub out_c: u32,
    /// Kernel height.
    pub kernel_h: u32,
    /// Kernel width.
    pub kernel_w: u32,
    /// Vertical stride.
    pub stride_h: u32,
    /// Horizontal stride.
    pub stride_w: u32,
    /// Vertical dilation.
    pub dilation_h: u32,
    /// Horizontal dilation.
    pub dilation_w: u32,
    /// Zero rows added above.
    pub pad_top: u32,
    /// Zero columns added left.
    pub pad_left: u32,
    /// Zero rows added below.
    pub pad_bottom: u32,
    /// Zero columns added right.
    pub pad_right: u32,
    /// Channel groups (`in_c` for depthwise).
    pub groups: u32,
}

/// 2-D convolution. Weights are `[out_c][kernel_h][kernel_w][in_c / groups]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    /// NHWC input.
    pub input: Buf,
    /// Weights.
    pub weights: Buf,
    /// Optional bias, `[out_c]`.
    pub bias: Option<Buf>,
    /// NHWC output.
    pub output: Buf,
    /// Shapes, strides, padding, groups.
    pub geom: ConvGeometry,
    /// Fused activation.
    pub act: Activation,
}

/// Fully connected: `output[r][o] = act(bias[o] + sum_i input[r][i] * weights[o][i])`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// `[rows][in_features]`.
    pub input: Buf,
    /// `[out_features][in_features]`.
    pub weights: Buf,
    /// Optional `[out_features]`.
    pub bias: Option<Buf>,
    /// `[rows][out_features]`.
    pub output: Buf,
    /// Rows (batch).
    pub rows: u32,
    /// Input features.
    pub in_features: u32,
    /// Output features.
    pub out_features: u32,
    /// Fused activation.
    pub act: Activation,
}

/// `output[..., m, n] = sum_k a[..., m, k] * b[..., k, n]`, batch dimensions broadcast.
/// All three shapes have the same rank (at least 2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MatMul {
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
}

/// Element-wise binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinaryKind {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
}

/// Element-wise binary operator. `a_shape`, `b_shape` and `out_shape` have equal rank; each
/// operand dimension equals the output's or is 1 (broadcast). An operand may be the output
/// buffer itself (in place) when its shape is the output's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Binary {
    /// Which operator.
    pub kind: BinaryKind,
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
    /// Fused activation.
    pub act: Activation,
}

/// Element-wise unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum UnaryKind {
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// `x` if `x >= 0`, else `alpha * x`.
    LeakyRelu {
        /// Slope for negative inputs.
        alpha: f32,
    },
    /// `1 / (1 + exp(-x))`.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// `max(0, min(1, alpha * x + beta))`.
    HardSigmoid {
        /// Slope.
        alpha: f32,
        /// Offset.
        beta: f32,
    },
    /// `x * max(0, min(1, x / 6 + 1 / 2))`.
    HardSwish,
    /// `x` if `x > 0`, else `alpha * (exp(x) - 1)`.
    Elu {
        /// Scale of the negative part.
        alpha: f32,
    },
    /// `exp(x)`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Square root.
    Sqrt,
    /// `-x`.
    Neg,
    /// `|x|`.
    Abs,
    /// `1 / x`.
    Reciprocal,
    /// `ln(1 + exp(x))`.
    Softplus,
}

/// Element-wise unary operator over `len` elements; may run in place (`input == output`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Unary {
    /// Which operator.
    pub kind: UnaryKind,
    /// Operand.
    pub input: Buf,
    /// Result.
    pub output: Buf,
    /// Number of elements.
    pub len: u32,
}

/// Softmax over the middle axis of a tensor viewed as `[outer][axis][inner]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    /// Operand.
    pub input: Buf,
    /// Result.
    pub output: Buf,
    /// Product of the dimensions before the axis.
    pub outer: u32,
    /// Length of the axis.
    pub axis: u32,
    /// Product of the dimensions after the axis.
    pub inner: u32,
    /// Log-softmax instead of softmax.
    pub log: bool,
}

/// Pooling reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PoolKind {
    /// Maximum over the window (padding never wins).
    Max,
    /// Mean over the window.
    Avg {
        /// Count padding positions in the divisor (ONNX `count_include_pad`).
        count_include_pad: bool,
    },
}

/// Geometry of a 2-D pooling over NHWC data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolGeometry {
    /// Batch size.
    pub batch: u32,
    /// Input height.
    pub in_h: u32,
    /// Input width.
    pub in_w: u32,
    /// Channels.
    pub channels: u32,
    /// Output height.
    pub out_h: u32,
    /// Output width.
    pub out_w: u32,
    /// Window height.
    pub kernel_h: u32,
    /// Window width.
    pub kernel_w: u32,
    /// Vertical stride.
    pub stride_h: u32,
    /// Horizontal stride.
    pub stride_w: u32,
    /// Vertical dilation.
    pub dilation_h: u32,
    /// Horizontal dilation.
    pub dilation_w: u32,
    /// Padding above.
    pub pad_top: u32,
    /// Padding left.
    pub pad_left: u32,
    /// Padding below.
    pub pad_bottom: u32,
    /// Padding right.
    pub pad_right: u32,
}

/// 2-D max or average pooling.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pool2d {
    /// Reduction.
    pub kind: PoolKind,
    /// NHWC input.
    pub input: Buf,
    /// NHWC output.
    pub output: Buf,
    /// Window geometry.
    pub geom: PoolGeometry,
}

/// Global pooling of NHWC input `[batch][spatial][channels]` to `[batch][channels]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GlobalPool {
    /// Max or average (`count_include_pad` is ignored).
    pub kind: PoolKind,
    /// Input.
    pub input: Buf,
    /// Output.
    pub output: Buf,
    /// Batch size.
    pub batch: u32,
    /// Product of the spatial dimensions.
    pub spatial: u32,
    /// Channels.
    pub channels: u32,
}

/// `output = input.permute(perm)`; `perm[i]` is the input axis of output axis `i`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transpose {
    /// Element type (only its size matters).
    pub dtype: DType,
    /// Operand.
    pub input: Buf,
    /// Result.
    pub output: Buf,
    /// Shape of the input.
    pub in_shape: Shape,
    /// Permutation; entries past the rank are ignored.
    pub perm: [u8; MAX_RANK],
}

/// Copies `blocks` blocks of `block_bytes`: block `i` goes from `input[src_offset + i *
/// src_stride ..]` to `output[dst_offset + i * dst_stride ..]`. Concatenation, slicing and
/// splitting along one axis are each one such copy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Copy {
    /// Source.
    pub input: Buf,
    /// Destination.
    pub output: Buf,
    /// Number of blocks.
    pub blocks: u32,
    /// Bytes per block.
    pub block_bytes: u32,
    /// Bytes between block starts in the source.
    pub src_stride: u32,
    /// Offset of the first block in the source.
    pub src_offset: u32,
    /// Bytes between block starts in the destination.
    pub dst_stride: u32,
    /// Offset of the first block in the destination.
    pub dst_offset: u32,
}

/// Constant padding: `output` has `in_shape` plus `begin[i]` leading and some trailing
/// elements on axis `i`, filled with `value_bits` (the value's bit pattern in `dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pad {
    /// Element type.
    pub dtype: DType,
    /// Operand.
    pub input: Buf,
    /// Result.
    pub output: Buf,
    /// Shape of the input.
    pub in_shape: Shape,
    /// Shape of the output.
    pub out_shape: Shape,
    /// Leading padding per axis.
    pub begin: [u32; MAX_RANK],
    /// Fill value, as the little-endian bits of one element of `dtype`.
    pub value_bits: u32,
}

super::fields::deserialize_u32_fields!(ConvGeometry {
    batch,
    in_h,
    in_w,
    in_c,
    out_h,
    out_w,
    out_c,
    kernel_h,
    kernel_w,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    pad_bottom,
    pad_right,
    groups,
});

super::fields::deserialize_u32_fields!(PoolGeometry {
    batch,
    in_h,
    in_w,
    channels,
    out_h,
    out_w,
    kernel_h,
    kernel_w,
    stride_h,
    stride_w,
    dilation_h,
    dilation_w,
    pad_top,
    pad_left,
    pad_bottom,
    pad_right,
});
