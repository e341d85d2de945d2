//! Operators of the IR with their parsed attributes.

use super::geometry::AutoPad;
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::format::{Activation, BinaryKind, PoolKind, UnaryKind};

/// Convolution attributes (any number of spatial axes; 1-D and 2-D are lowered).
#[derive(Debug, Clone, PartialEq)]
pub struct ConvAttrs {
    /// Kernel spatial size, if given (else taken from the weights).
    pub kernel_shape: Option<Vec<usize>>,
    /// Strides per spatial axis (default 1).
    pub strides: Option<Vec<usize>>,
    /// Dilations per spatial axis (default 1).
    pub dilations: Option<Vec<usize>>,
    /// Explicit pads: all begins, then all ends.
    pub pads: Option<Vec<usize>>,
    /// ONNX `auto_pad`.
    pub auto_pad: AutoPad,
    /// Channel groups.
    pub group: usize,
    /// Activation fused by the compiler.
    pub act: Activation,
}

/// Pooling attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolAttrs {
    /// Max or average (with `count_include_pad`).
    pub kind: PoolKind,
    /// Window size per spatial axis.
    pub kernel_shape: Vec<usize>,
    /// Strides (default 1).
    pub strides: Option<Vec<usize>>,
    /// Dilations (default 1).
    pub dilations: Option<Vec<usize>>,
    /// Explicit pads: all begins, then all ends.
    pub pads: Option<Vec<usize>>,
    /// ONNX `auto_pad`.
    pub auto_pad: AutoPad,
    /// Round the output size up.
    pub ceil_mode: bool,
}

/// Slice ranges: `starts[i]..ends[i]` along `axes[i]` (all axes in order when absent).
#[derive(Debug, Clone, PartialEq)]
pub struct SliceAttrs {
    /// First index per sliced axis.
    pub starts: Vec<i64>,
    /// Index past the last per sliced axis.
    pub ends: Vec<i64>,
    /// Sliced axes.
    pub axes: Option<Vec<i64>>,
}

/// `Gemm` attributes: `alpha * A' * B' + beta * C`.
#[derive(Debug, Clone, PartialEq)]
pub struct GemmAttrs {
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of `C`.
    pub beta: f32,
    /// Transpose `A`.
    pub trans_a: bool,
    /// Transpose `B`.
    pub trans_b: bool,
    /// Activation fused by the compiler.
    pub act: Activation,
}

/// An IR operator.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Convolution (`X`, `W`, optional `B`).
    Conv(ConvAttrs),
    /// General matrix product (`A`, `B`, optional `C`).
    Gemm(GemmAttrs),
    /// NumPy matrix product.
    MatMul,
    /// `x @ W + b` over the last axis of `x`, with constant `W` (`[K, N]`) and optional
    /// constant `b` (`[N]`): what `Gemm` and `MatMul` + `Add` become.
    Linear {
        /// Activation fused by the compiler.
        act: Activation,
    },
    /// Element-wise binary with broadcasting, possibly with a fused activation.
    Binary {
        /// Which operator.
        kind: BinaryKind,
        /// Activation fused by the compiler.
        act: Activation,
    },
    /// Element-wise unary.
    Unary(UnaryKind),
    /// `Clip` whose bounds are attributes (opset < 11) or constant inputs 1 and 2.
    Clip {
        /// Lower bound from attributes.
        min: Option<f32>,
        /// Upper bound from attributes.
        max: Option<f32>,
    },
    /// Softmax / LogSoftmax.
    Softmax {
        /// Axis.
        axis: i64,
        /// LogSoftmax.
        log: bool,
        /// Opset < 13: the input is coerced to 2-D at `axis`.
        coerce_2d: bool,
    },
    /// Windowed pooling.
    Pool(PoolAttrs),
    /// Global pooling over all spatial axes.
    GlobalPool(PoolKind),
    /// Batch normalization in inference mode (`X`, scale, bias, mean, var).
    BatchNorm {
        /// Added to the variance.
        epsilon: f32,
    },
    /// Reshape to the constant shape input.
    Reshape {
        /// A 0 in the shape means 0 instead of "copy the input dimension".
        allowzero: bool,
    },
    /// Flatten to 2-D at `axis`.
    Flatten {
        /// Split axis.
        axis: i64,
    },
    /// Remove unit axes (attribute before opset 13, constant input after).
    Squeeze {
        /// Axes from the attribute.
        axes: Option<Vec<i64>>,
    },
    /// Insert unit axes (attribute before opset 13, constant input after).
    Unsqueeze {
        /// Axes from the attribute.
        axes: Option<Vec<i64>>,
    },
    /// Axis permutation (reverse when absent).
    Transpose {
        /// Permutation.
        perm: Option<Vec<usize>>,
    },
    /// Concatenation.
    Concat {
        /// Axis.
        axis: i64,
    },
    /// Constant padding.
    Pad {
        /// Pads from the attribute (opset < 11); else input 1.
        pads: Option<Vec<i64>>,
        /// Fill value from the attribute (opset < 11); else input 2.
        value: f32,
    },
    /// Slice with unit steps.
    Slice {
        /// Attribute form (opset < 10); after inference, the normalized ranges.
        attrs: Option<SliceAttrs>,
    },
    /// Split along an axis.
    Split {
        /// Axis.
        axis: i64,
        /// Sizes from the attribute (opset < 13); else input 1 or equal parts.
        split: Option<Vec<i64>>,
    },
    /// Identity (also `Dropout` in inference).
    Identity,
    /// `DequantizeLinear`.
    Dequantize {
        /// Quantization axis.
        axis: i64,
    },
    /// `QuantizeLinear`.
    Quantize {
        /// Quantization axis.
        axis: i64,
    },
    /// `Shape` (always constant: shapes are static).
    Shape {
        /// First axis.
        start: i64,
        /// Axis past the last.
        end: Option<i64>,
    },
    /// `Size`.
    Size,
    /// `Gather` on constants.
    Gather {
        /// Axis.
        axis: i64,
    },
    /// `Cast` on constants.
    Cast {
        /// Target type.
        to: ElemType,
    },
    /// `ConstantOfShape`.
    ConstantOfShape {
        /// Fill value (one element).
        value: Tensor,
    },
    /// `Range` on constants.
    Range,
    /// A node whittle cannot compile; the reason says why.
    Unsupported(String),
}

impl Op {
    /// Whether the op can only be computed at compile time (all inputs constant).
    pub fn constant_only(&self) -> bool {
        matches!(
            self,
            Op::Shape { .. }
                | Op::Size
                | Op::Gather { .. }
                | Op::Cast { .. }
                | Op::ConstantOfShape { .. }
                | Op::Range
        )
    }
}
