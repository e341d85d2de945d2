//! Operator descriptions: every operand is resolved to a buffer and every shape is static, so
//! the runtime needs no tensor table while it runs.

use super::{Buf, MAX_RANK, Shape};
use crate::DType;
use serde::{Deserialize, Serialize};

/// One operator in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpDesc {
    /// Index of the operator's output in the tensor table (for names and per-layer checks).
    pub tensor: u32,
    /// What to compute.
    pub kind: OpKind,
}

/// The operator and its operands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum OpKind {
    /// 2-D convolution, NHWC, f32.
    Conv2d(Conv2d),
    /// Fully connected layer, f32.
    Dense(Dense),
    /// Batched matrix product of two tensors, f32.
    MatMul(MatMul),
    /// Element-wise binary operator with broadcasting, f32.
    Binary(Binary),
    /// Element-wise unary operator, f32.
    Unary(Unary),
    /// Softmax or log-softmax along one axis, f32.
    Softmax(Softmax),
    /// Max or average pooling, NHWC, f32.
    Pool2d(Pool2d),
    /// Global max or average pooling, NHWC, f32.
    GlobalPool(GlobalPool),
    /// Axis permutation, any element type.
    Transpose(Transpose),
    /// Strided block copy (concatenation, slicing, splitting), any element type.
    Copy(Copy),
    /// Constant padding, any element type.
    Pad(Pad),
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

impl OpKind {
    /// Every buffer the operator reads or writes, output first (for tools that relocate or
    /// inspect buffers).
    pub fn buffers_mut(&mut self) -> impl Iterator<Item = &mut Buf> {
        let (output, inputs): (&mut Buf, [Option<&mut Buf>; 3]) = match self {
            OpKind::Conv2d(op) => (
                &mut op.output,
                [Some(&mut op.input), Some(&mut op.weights), op.bias.as_mut()],
            ),
            OpKind::Dense(op) => (
                &mut op.output,
                [Some(&mut op.input), Some(&mut op.weights), op.bias.as_mut()],
            ),
            OpKind::MatMul(op) => (&mut op.output, [Some(&mut op.a), Some(&mut op.b), None]),
            OpKind::Binary(op) => (&mut op.output, [Some(&mut op.a), Some(&mut op.b), None]),
            OpKind::Unary(op) => (&mut op.output, [Some(&mut op.input), None, None]),
            OpKind::Softmax(op) => (&mut op.output, [Some(&mut op.input), None, None]),
            OpKind::Pool2d(op) => (&mut op.output, [Some(&mut op.input), None, None]),
            OpKind::GlobalPool(op) => (&mut op.output, [Some(&mut op.input), None, None]),
            OpKind::Transpose(op) => (&mut op.output, [Some(&mut op.input), None, None]),
            OpKind::Copy(op) => (&mut op.output, [Some(&mut op.input), None, None]),
            OpKind::Pad(op) => (&mut op.output, [Some(&mut op.input), None, None]),
        };
        core::iter::once(output).chain(inputs.into_iter().flatten())
    }

    /// The buffer the operator writes.
    pub fn output(&self) -> Buf {
        match self {
            OpKind::Conv2d(op) => op.output,
            OpKind::Dense(op) => op.output,
            OpKind::MatMul(op) => op.output,
            OpKind::Binary(op) => op.output,
            OpKind::Unary(op) => op.output,
            OpKind::Softmax(op) => op.output,
            OpKind::Pool2d(op) => op.output,
            OpKind::GlobalPool(op) => op.output,
            OpKind::Transpose(op) => op.output,
            OpKind::Copy(op) => op.output,
            OpKind::Pad(op) => op.output,
        }
    }

    /// Short operator name, as `inspect` prints it.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Conv2d(op)
                if op.geom.groups > 1
                    && op.geom.groups == op.geom.in_c
                    && op.geom.groups == op.geom.out_c =>
            {
                "DepthwiseConv2d"
            }
            OpKind::Conv2d(_) => "Conv2d",
            OpKind::Dense(_) => "Dense",
            OpKind::MatMul(_) => "MatMul",
            OpKind::Binary(op) => match op.kind {
                BinaryKind::Add => "Add",
                BinaryKind::Sub => "Sub",
                BinaryKind::Mul => "Mul",
                BinaryKind::Div => "Div",
                BinaryKind::Max => "Max",
                BinaryKind::Min => "Min",
            },
            OpKind::Unary(op) => match op.kind {
                UnaryKind::Relu => "Relu",
                UnaryKind::Clip { .. } => "Clip",
                UnaryKind::LeakyRelu { .. } => "LeakyRelu",
                UnaryKind::Sigmoid => "Sigmoid",
                UnaryKind::Tanh => "Tanh",
                UnaryKind::HardSigmoid { .. } => "HardSigmoid",
                UnaryKind::HardSwish => "HardSwish",
                UnaryKind::Elu { .. } => "Elu",
                UnaryKind::Exp => "Exp",
                UnaryKind::Log => "Log",
                UnaryKind::Sqrt => "Sqrt",
                UnaryKind::Neg => "Neg",
                UnaryKind::Abs => "Abs",
                UnaryKind::Reciprocal => "Reciprocal",
                UnaryKind::Softplus => "Softplus",
            },
            OpKind::Softmax(op) if op.log => "LogSoftmax",
            OpKind::Softmax(_) => "Softmax",
            OpKind::Pool2d(op) => match op.kind {
                PoolKind::Max => "MaxPool2d",
                PoolKind::Avg { .. } => "AvgPool2d",
            },
            OpKind::GlobalPool(op) => match op.kind {
                PoolKind::Max => "GlobalMaxPool",
                PoolKind::Avg { .. } => "GlobalAvgPool",
            },
            OpKind::Transpose(_) => "Transpose",
            OpKind::Copy(_) => "Copy",
            OpKind::Pad(_) => "Pad",
        }
    }
}
