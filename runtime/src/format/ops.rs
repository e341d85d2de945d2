//! Operator descriptions: every operand is resolved to a buffer and every shape is static, so
//! the runtime needs no tensor table while it runs.

use super::Buf;
use super::int8::*;
use super::params::*;
use super::sparse::*;
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
    #[cfg_attr(
        not(all(feature = "float", feature = "conv")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Conv2d(Conv2d),
    /// Fully connected layer, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "dense")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Dense(Dense),
    /// Batched matrix product of two tensors, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "matmul")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    MatMul(MatMul),
    /// Element-wise binary operator with broadcasting, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "binary")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Binary(Binary),
    /// Element-wise unary operator, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "unary")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Unary(Unary),
    /// Softmax or log-softmax along one axis, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "softmax")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Softmax(Softmax),
    /// Max or average pooling, NHWC, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "pool")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Pool2d(Pool2d),
    /// Global max or average pooling, NHWC, f32.
    #[cfg_attr(
        not(all(feature = "float", feature = "pool")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    GlobalPool(GlobalPool),
    /// Axis permutation, any element type.
    #[cfg_attr(
        not(all(feature = "layout")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Transpose(Transpose),
    /// Strided block copy (concatenation, slicing, splitting), any element type.
    #[cfg_attr(
        not(all(feature = "layout")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Copy(Copy),
    /// Constant padding, any element type.
    #[cfg_attr(
        not(all(feature = "layout")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Pad(Pad),
    /// 2-D convolution, NHWC, int8.
    #[cfg_attr(
        not(all(feature = "int8", feature = "conv")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Conv2dI8(Conv2dI8),
    /// Fully connected layer, int8.
    #[cfg_attr(
        not(all(feature = "int8", feature = "dense")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    DenseI8(DenseI8),
    /// Element-wise Add, Sub or Mul with broadcasting, int8.
    #[cfg_attr(
        not(all(feature = "int8", feature = "binary")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    BinaryI8(BinaryI8),
    /// Max or average pooling, NHWC, int8.
    #[cfg_attr(
        not(all(feature = "int8", feature = "pool")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Pool2dI8(Pool2dI8),
    /// Global max or average pooling, int8 (input and output share scale and zero point).
    #[cfg_attr(
        not(all(feature = "int8", feature = "pool")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    GlobalPoolI8(GlobalPool),
    /// Softmax, int8 in, int8 out (scale 1/256).
    #[cfg_attr(
        not(all(feature = "int8", feature = "softmax")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    SoftmaxI8(SoftmaxI8),
    /// Table lookup, int8 -> int8.
    #[cfg_attr(
        not(all(feature = "int8", feature = "lookup")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    LookupI8(LookupI8),
    /// Change of scale and zero point, int8 -> int8.
    #[cfg_attr(
        not(all(feature = "int8", feature = "quantize")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    RequantizeI8(RequantizeI8),
    /// float32 -> int8.
    #[cfg_attr(
        not(feature = "quantize"),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Quantize(Quantize),
    /// int8 -> float32.
    #[cfg_attr(
        not(feature = "quantize"),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Dequantize(Dequantize),
    /// 2-D convolution, NHWC, int8, with sparse weights.
    #[cfg_attr(
        not(all(feature = "int8", feature = "conv", feature = "sparse")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    Conv2dI8Sparse(Conv2dI8Sparse),
    /// Fully connected layer, int8, with sparse weights.
    #[cfg_attr(
        not(all(feature = "int8", feature = "dense", feature = "sparse")),
        serde(deserialize_with = "super::opset::not_compiled_in")
    )]
    DenseI8Sparse(DenseI8Sparse),
}

impl OpKind {
    /// Every buffer the operator reads or writes, output first (for tools that relocate or
    /// inspect buffers).
    pub fn buffers_mut(&mut self) -> impl Iterator<Item = &mut Buf> {
        type Inputs<'a> = [Option<&'a mut Buf>; 4];
        let (output, inputs): (&mut Buf, Inputs<'_>) = match self {
            OpKind::Conv2d(op) => (
                &mut op.output,
                [
                    Some(&mut op.input),
                    Some(&mut op.weights),
                    op.bias.as_mut(),
                    None,
                ],
            ),
            OpKind::Dense(op) => (
                &mut op.output,
                [
                    Some(&mut op.input),
                    Some(&mut op.weights),
                    op.bias.as_mut(),
                    None,
                ],
            ),
            OpKind::MatMul(op) => (
                &mut op.output,
                [Some(&mut op.a), Some(&mut op.b), None, None],
            ),
            OpKind::Binary(op) => (
                &mut op.output,
                [Some(&mut op.a), Some(&mut op.b), None, None],
            ),
            OpKind::Unary(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Softmax(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Pool2d(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::GlobalPool(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Transpose(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Copy(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Pad(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Conv2dI8(op) => {
                let r = &mut op.requant;
                let inputs = [
                    Some(&mut op.input),
                    Some(&mut op.weights),
                    op.bias.as_mut(),
                    Some(&mut r.multipliers),
                ];
                return BufIter::new(&mut op.output, inputs, Some(&mut r.shifts));
            }
            OpKind::DenseI8(op) => {
                let r = &mut op.requant;
                let inputs = [
                    Some(&mut op.input),
                    Some(&mut op.weights),
                    op.bias.as_mut(),
                    Some(&mut r.multipliers),
                ];
                return BufIter::new(&mut op.output, inputs, Some(&mut r.shifts));
            }
            OpKind::Conv2dI8Sparse(op) => {
                let (c, sp) = (&mut op.conv, &mut op.sparse);
                let r = &mut c.requant;
                let inputs = [
                    Some(&mut c.input),
                    Some(&mut c.weights),
                    c.bias.as_mut(),
                    Some(&mut r.multipliers),
                ];
                let extra = [
                    Some(&mut r.shifts),
                    Some(&mut sp.bitmap),
                    Some(&mut sp.offsets),
                ];
                return BufIter::with_extra(&mut c.output, inputs, extra);
            }
            OpKind::DenseI8Sparse(op) => {
                let (d, sp) = (&mut op.dense, &mut op.sparse);
                let r = &mut d.requant;
                let inputs = [
                    Some(&mut d.input),
                    Some(&mut d.weights),
                    d.bias.as_mut(),
                    Some(&mut r.multipliers),
                ];
                let extra = [
                    Some(&mut r.shifts),
                    Some(&mut sp.bitmap),
                    Some(&mut sp.offsets),
                ];
                return BufIter::with_extra(&mut d.output, inputs, extra);
            }
            OpKind::BinaryI8(op) => (
                &mut op.output,
                [Some(&mut op.a), Some(&mut op.b), None, None],
            ),
            OpKind::Pool2dI8(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::GlobalPoolI8(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::SoftmaxI8(op) => (
                &mut op.output,
                [Some(&mut op.input), Some(&mut op.table), None, None],
            ),
            OpKind::LookupI8(op) => (
                &mut op.output,
                [Some(&mut op.input), Some(&mut op.table), None, None],
            ),
            OpKind::RequantizeI8(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Quantize(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
            OpKind::Dequantize(op) => (&mut op.output, [Some(&mut op.input), None, None, None]),
        };
        BufIter::new(output, inputs, None)
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
            OpKind::Conv2dI8(op) => op.output,
            OpKind::DenseI8(op) => op.output,
            OpKind::BinaryI8(op) => op.output,
            OpKind::Pool2dI8(op) => op.output,
            OpKind::GlobalPoolI8(op) => op.output,
            OpKind::SoftmaxI8(op) => op.output,
            OpKind::LookupI8(op) => op.output,
            OpKind::RequantizeI8(op) => op.output,
            OpKind::Quantize(op) => op.output,
            OpKind::Dequantize(op) => op.output,
            OpKind::Conv2dI8Sparse(op) => op.conv.output,
            OpKind::DenseI8Sparse(op) => op.dense.output,
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
            OpKind::Conv2dI8(op)
                if op.geom.groups > 1
                    && op.geom.groups == op.geom.in_c
                    && op.geom.groups == op.geom.out_c =>
            {
                "DepthwiseConv2dI8"
            }
            OpKind::Conv2dI8(_) => "Conv2dI8",
            OpKind::DenseI8(_) => "DenseI8",
            OpKind::BinaryI8(op) => match op.kind {
                BinaryKindI8::Add => "AddI8",
                BinaryKindI8::Sub => "SubI8",
                BinaryKindI8::Mul => "MulI8",
            },
            OpKind::Pool2dI8(op) => match op.kind {
                PoolKind::Max => "MaxPool2dI8",
                PoolKind::Avg { .. } => "AvgPool2dI8",
            },
            OpKind::GlobalPoolI8(op) => match op.kind {
                PoolKind::Max => "GlobalMaxPoolI8",
                PoolKind::Avg { .. } => "GlobalAvgPoolI8",
            },
            OpKind::SoftmaxI8(_) => "SoftmaxI8",
            OpKind::LookupI8(_) => "LookupI8",
            OpKind::RequantizeI8(_) => "RequantizeI8",
            OpKind::Quantize(_) => "Quantize",
            OpKind::Dequantize(_) => "Dequantize",
            OpKind::Conv2dI8Sparse(op)
                if op.conv.geom.groups > 1
                    && op.conv.geom.groups == op.conv.geom.in_c
                    && op.conv.geom.groups == op.conv.geom.out_c =>
            {
                "DepthwiseConv2dI8Sparse"
            }
            OpKind::Conv2dI8Sparse(_) => "Conv2dI8Sparse",
            OpKind::DenseI8Sparse(_) => "DenseI8Sparse",
        }
    }
}

/// The buffers of one operator, output first.
pub struct BufIter<'a> {
    items: [Option<&'a mut Buf>; 8],
    next: usize,
}

impl<'a> BufIter<'a> {
    fn new(
        output: &'a mut Buf,
        inputs: [Option<&'a mut Buf>; 4],
        extra: Option<&'a mut Buf>,
    ) -> Self {
        Self::with_extra(output, inputs, [extra, None, None])
    }

    fn with_extra(
        output: &'a mut Buf,
        inputs: [Option<&'a mut Buf>; 4],
        extra: [Option<&'a mut Buf>; 3],
    ) -> Self {
        let [a, b, c, d] = inputs;
        let [e, f, g] = extra;
        BufIter {
            items: [Some(output), a, b, c, d, e, f, g],
            next: 0,
        }
    }
}

impl<'a> Iterator for BufIter<'a> {
    type Item = &'a mut Buf;

    fn next(&mut self) -> Option<&'a mut Buf> {
        while self.next < self.items.len() {
            let item = self.items[self.next].take();
            self.next += 1;
            if item.is_some() {
                return item;
            }
        }
        None
    }
}
