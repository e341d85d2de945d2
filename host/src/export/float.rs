//! Float operators as plain ONNX operators, channels-last data transposed around `Conv` and
//! the pooling operators.

use super::ExportError;
use super::geometry::{self as geo, TO_NCHW, TO_NHWC};
use super::graph::Exporter;
use crate::onnx::build::Attr;
use crate::tensor::Tensor;
use whittle_runtime::DType;
use whittle_runtime::format::{
    Activation, Binary, BinaryKind, Conv2d, Dense, GlobalPool, MatMul, Pool2d, PoolKind, Shape,
    Softmax, Unary, UnaryKind,
};

fn dims(s: &Shape) -> Vec<i64> {
    s.dims().iter().map(|&d| i64::from(d)).collect()
}

/// Applies a fused activation.
fn activate(x: &mut Exporter<'_>, y: &str, act: Activation) -> String {
    match act {
        Activation::None => y.to_string(),
        Activation::Relu => x.clamp(y, Some(0.0), None),
        Activation::Clip { min, max } => x.clamp(y, Some(min), Some(max)),
    }
}

/// A float32 constant of `shape` from the weight blob.
fn weights(
    x: &mut Exporter<'_>,
    what: &str,
    shape: Vec<usize>,
    data: Vec<f32>,
) -> Result<String, ExportError> {
    if shape.iter().product::<usize>() != data.len() {
        return Err(x.fail(format!("{} {what} values for shape {shape:?}", data.len())));
    }
    Ok(x.konst(what, &Tensor::f32(shape, data)))
}

/// Optional bias of `n` values.
fn bias(
    x: &mut Exporter<'_>,
    buf: Option<whittle_runtime::format::Buf>,
    n: u32,
) -> Result<String, ExportError> {
    match buf {
        Some(buf) => {
            let data = x.f32s(buf)?;
            weights(x, "bias", vec![n as usize], data)
        }
        None => Ok(String::new()),
    }
}

/// `Conv2d`.
pub fn conv(x: &mut Exporter<'_>, tensor: u32, op: &Conv2d) -> Result<(), ExportError> {
    let g = &op.geom;
    let (input, _) = x.operand(op.input, &geo::conv_input(g))?;
    let attrs = geo::conv_attrs(x, g)?;
    let per_channel = (g.kernel_h * g.kernel_w * (g.in_c / g.groups.max(1))) as usize;
    let raw = x.layer_weights(op.weights, g.out_c, per_channel)?;
    let (shape, w) = geo::onnx_weights(x, g, &raw)?;
    let w = weights(x, "weights", shape, w)?;
    let b = bias(x, op.bias, g.out_c)?;
    let nchw = x.transpose4(&input, TO_NCHW);
    let y = x.b.node("Conv", &[&nchw, &w, &b], attrs);
    let y = activate(x, &y, op.act);
    let y = x.transpose4(&y, TO_NHWC);
    x.define(tensor, op.output, &y, &geo::conv_output(g), DType::F32)
}

/// `Dense`: `Gemm` with the weights as stored (`transB`).
pub fn dense(x: &mut Exporter<'_>, tensor: u32, op: &Dense) -> Result<(), ExportError> {
    let (rows, inf, outf) = (
        i64::from(op.rows),
        i64::from(op.in_features),
        i64::from(op.out_features),
    );
    let (input, _) = x.operand(op.input, &[rows, inf])?;
    let data = x.layer_weights(op.weights, op.out_features, inf as usize)?;
    let w = weights(x, "weights", vec![outf as usize, inf as usize], data)?;
    let b = bias(x, op.bias, op.out_features)?;
    let y =
        x.b.node("Gemm", &[&input, &w, &b], vec![("transB", Attr::Int(1))]);
    let y = activate(x, &y, op.act);
    x.define(tensor, op.output, &y, &[rows, outf], DType::F32)
}

/// `MatMul`.
pub fn matmul(x: &mut Exporter<'_>, tensor: u32, op: &MatMul) -> Result<(), ExportError> {
    let a = x.f32_operand(op.a, &dims(&op.a_shape))?;
    let b = x.f32_operand(op.b, &dims(&op.b_shape))?;
    let y = x.b.node("MatMul", &[&a, &b], vec![]);
    x.define(tensor, op.output, &y, &dims(&op.out_shape), DType::F32)
}

/// Element-wise binary operators, broadcasting as ONNX does (equal ranks).
pub fn binary(x: &mut Exporter<'_>, tensor: u32, op: &Binary) -> Result<(), ExportError> {
    let a = x.f32_operand(op.a, &dims(&op.a_shape))?;
    let b = x.f32_operand(op.b, &dims(&op.b_shape))?;
    let kind = match op.kind {
        BinaryKind::Add => "Add",
        BinaryKind::Sub => "Sub",
        BinaryKind::Mul => "Mul",
        BinaryKind::Div => "Div",
        BinaryKind::Max => "Max",
        BinaryKind::Min => "Min",
    };
    let y = x.b.node(kind, &[&a, &b], vec![]);
    let y = activate(x, &y, op.act);
    x.define(tensor, op.output, &y, &dims(&op.out_shape), DType::F32)
}

/// Element-wise unary operators.
pub fn unary(x: &mut Exporter<'_>, tensor: u32, op: &Unary) -> Result<(), ExportError> {
    let v = x.read(op.input)?;
    let input = v.name.as_str();
    let plain = |x: &mut Exporter<'_>, name: &str, attrs: Vec<(&str, Attr)>| {
        x.b.node(name, &[input], attrs)
    };
    let y = match op.kind {
        UnaryKind::Relu => plain(x, "Relu", vec![]),
        UnaryKind::Clip { min, max } => x.clamp(input, Some(min), Some(max)),
        UnaryKind::LeakyRelu { alpha } => {
            plain(x, "LeakyRelu", vec![("alpha", Attr::Float(alpha))])
        }
        UnaryKind::Sigmoid => plain(x, "Sigmoid", vec![]),
        UnaryKind::Tanh => plain(x, "Tanh", vec![]),
        UnaryKind::HardSigmoid { alpha, beta } => plain(
            x,
            "HardSigmoid",
            vec![("alpha", Attr::Float(alpha)), ("beta", Attr::Float(beta))],
        ),
        UnaryKind::HardSwish => plain(x, "HardSwish", vec![]),
        UnaryKind::Elu { alpha } => plain(x, "Elu", vec![("alpha", Attr::Float(alpha))]),
        UnaryKind::Exp => plain(x, "Exp", vec![]),
        UnaryKind::Log => plain(x, "Log", vec![]),
        UnaryKind::Sqrt => plain(x, "Sqrt", vec![]),
        UnaryKind::Neg => plain(x, "Neg", vec![]),
        UnaryKind::Abs => plain(x, "Abs", vec![]),
        UnaryKind::Reciprocal => plain(x, "Reciprocal", vec![]),
        UnaryKind::Softplus => plain(x, "Softplus", vec![]),
    };
    x.define(tensor, op.output, &y, &v.dims, DType::F32)
}

/// `Softmax` / `LogSoftmax` over the middle axis of `[outer][axis][inner]`.
pub fn softmax(x: &mut Exporter<'_>, tensor: u32, op: &Softmax) -> Result<(), ExportError> {
    let dims = [op.outer, op.axis, op.inner].map(i64::from);
    let (input, _) = x.operand(op.input, &dims)?;
    let name = if op.log { "LogSoftmax" } else { "Softmax" };
    let y = x.b.node(name, &[&input], vec![("axis", Attr::Int(1))]);
    x.define(tensor, op.output, &y, &dims, DType::F32)
}

/// `MaxPool` / `AveragePool`.
pub fn pool(x: &mut Exporter<'_>, tensor: u32, op: &Pool2d) -> Result<(), ExportError> {
    let g = &op.geom;
    let (input, _) = x.operand(op.input, &geo::pool_input(g))?;
    let (name, attrs) = geo::pool_op(x, g, op.kind)?;
    let nchw = x.transpose4(&input, TO_NCHW);
    let y = x.b.node(name, &[&nchw], attrs);
    let y = x.transpose4(&y, TO_NHWC);
    x.define(tensor, op.output, &y, &geo::pool_output(g), DType::F32)
}

/// Mean or max over axis 1 of a `[batch][spatial][channels]` value, that axis dropped.
pub fn reduce(x: &mut Exporter<'_>, input: &str, kind: PoolKind) -> String {
    let name = match kind {
        PoolKind::Max => "ReduceMax",
        PoolKind::Avg { .. } => "ReduceMean",
    };
    let attrs = vec![("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(0))];
    x.b.node(name, &[input], attrs)
}

/// `GlobalPool`.
pub fn global_pool(x: &mut Exporter<'_>, tensor: u32, op: &GlobalPool) -> Result<(), ExportError> {
    let dims = [op.batch, op.spatial, op.channels].map(i64::from);
    let (input, _) = x.operand(op.input, &dims)?;
    let y = reduce(x, &input, op.kind);
    x.define(tensor, op.output, &y, &[dims[0], dims[2]], DType::F32)
}
