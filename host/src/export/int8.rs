//! Integer operators in QDQ form: `DequantizeLinear` of the int8 operands, the float
//! operator, `QuantizeLinear` to the output's scale and zero point. Weights stay int8 with
//! per-channel scales, biases int32 with scale `input_scale * weight_scale[c]`.

use super::ExportError;
use super::geometry::{self as geo, TO_NCHW, TO_NHWC};
use super::graph::Exporter;
use super::scales::{act_bounds, binary_constant_scale, dq_const, weight_scales};
use crate::onnx::build::Attr;
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::DType;
use whittle_runtime::format::{
    BinaryI8, BinaryKindI8, Buf, Conv2dI8, DenseI8, Dequantize, GlobalPool, LookupI8, Pool2dI8,
    Quantize, RequantizeI8, SoftmaxI8, Space, TensorQuant,
};

/// Checks that a zero point an operator stores agrees with its tensor's.
fn same_zp(x: &Exporter<'_>, what: &str, op_zp: i32, q: TensorQuant) -> Result<(), ExportError> {
    if op_zp == q.zero_point {
        Ok(())
    } else {
        Err(x.fail(format!(
            "{what} zero point {op_zp} differs from its tensor's {}",
            q.zero_point
        )))
    }
}

/// Clamps to the fused activation and quantizes to `out`.
fn requantize(x: &mut Exporter<'_>, y: &str, act: (i8, i8), out: TensorQuant) -> String {
    let (lo, hi) = act_bounds(act.0, act.1, out);
    let y = x.clamp(y, lo, hi);
    x.q(&y, out)
}

/// Per-channel int8 weights and the int32 bias, dequantized.
fn weights_and_bias(
    x: &mut Exporter<'_>,
    shape: Vec<usize>,
    weights: Vec<i8>,
    bias: Option<Buf>,
    w_scales: &[f32],
    in_scale: f32,
) -> Result<(String, String), ExportError> {
    let data = weights.into_iter().map(i64::from).collect();
    let w = dq_const(x, "weights", ElemType::I8, shape, data, w_scales, 0);
    let b = match bias {
        Some(buf) => {
            let bias = x.i32s(buf)?;
            let b_scales: Vec<f32> = w_scales.iter().map(|&s| in_scale * s).collect();
            let n = bias.len();
            let data = bias.into_iter().map(i64::from).collect();
            dq_const(x, "bias", ElemType::I32, vec![n], data, &b_scales, 0)
        }
        None => String::new(),
    };
    Ok((w, b))
}

/// `Conv2dI8`: int8 NHWC in and out, transposed around a channels-first `Conv`.
pub fn conv(x: &mut Exporter<'_>, tensor: u32, op: &Conv2dI8) -> Result<(), ExportError> {
    let g = &op.geom;
    let (input, v) = x.operand(op.input, &geo::conv_input(g))?;
    let (in_q, out_q) = (x.quant_of(&v)?, x.out_quant(tensor)?);
    same_zp(x, "input", op.input_zp, in_q)?;
    same_zp(x, "output", op.output_zp, out_q)?;
    let attrs = geo::conv_attrs(x, g)?;
    let w_scales = weight_scales(x, &op.requant, g.out_c, in_q, out_q)?;
    let raw = x.conv_i8_weights(g, op.weights)?;
    let (shape, w) = geo::onnx_weights(x, g, &raw)?;
    let (w, b) = weights_and_bias(x, shape, w, op.bias, &w_scales, in_q.scale)?;
    let nchw = x.transpose4(&input, TO_NCHW);
    let xf = x.dq(&nchw, in_q);
    let y = x.b.node("Conv", &[&xf, &w, &b], attrs);
    let y = requantize(x, &y, (op.act_min, op.act_max), out_q);
    let y = x.transpose4(&y, TO_NHWC);
    x.define(tensor, op.output, &y, &geo::conv_output(g), DType::I8)
}

/// `DenseI8`: `Gemm` with the int8 weights as stored (`transB`).
pub fn dense(x: &mut Exporter<'_>, tensor: u32, op: &DenseI8) -> Result<(), ExportError> {
    let (rows, inf, outf) = (
        i64::from(op.rows),
        i64::from(op.in_features),
        i64::from(op.out_features),
    );
    let (input, v) = x.operand(op.input, &[rows, inf])?;
    let (in_q, out_q) = (x.quant_of(&v)?, x.out_quant(tensor)?);
    same_zp(x, "input", op.input_zp, in_q)?;
    same_zp(x, "output", op.output_zp, out_q)?;
    let w_scales = weight_scales(x, &op.requant, op.out_features, in_q, out_q)?;
    let w = x.i8s(op.weights)?;
    if w.len() as i64 != inf * outf {
        return Err(x.fail(format!("{} weights for {outf}x{inf}", w.len())));
    }
    let shape = vec![outf as usize, inf as usize];
    let (w, b) = weights_and_bias(x, shape, w, op.bias, &w_scales, in_q.scale)?;
    let xf = x.dq(&input, in_q);
    let y =
        x.b.node("Gemm", &[&xf, &w, &b], vec![("transB", Attr::Int(1))]);
    let y = requantize(x, &y, (op.act_min, op.act_max), out_q);
    x.define(tensor, op.output, &y, &[rows, outf], DType::I8)
}

/// The scale and zero point of an int8 operand: an arena value's, or those the tensor table
/// records for a constant (`None` when it records none).
fn operand_quant(x: &Exporter<'_>, buf: Buf) -> Result<Option<TensorQuant>, ExportError> {
    if buf.space == Space::Arena {
        let v = x.read(buf)?;
        return x.quant_of(&v).map(Some);
    }
    Ok(x.named_constant(buf)
        .filter(|d| d.dtype == DType::I8)
        .and_then(|d| d.quant))
}

/// An int8 operand with quantization `q`, dequantized: an arena value, or a constant.
fn dq_operand(
    x: &mut Exporter<'_>,
    buf: Buf,
    dims: &[i64],
    q: TensorQuant,
    zp: i32,
) -> Result<String, ExportError> {
    same_zp(x, "operand", zp, q)?;
    let name = if buf.space == Space::Arena {
        x.operand(buf, dims)?.0
    } else {
        let data: Vec<i64> = x.i8s(buf)?.into_iter().map(i64::from).collect();
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        if shape.iter().product::<usize>() != data.len() {
            return Err(x.fail(format!(
                "a constant of {} values is read as {dims:?}",
                data.len()
            )));
        }
        x.konst("const", &Tensor::int(ElemType::I8, shape, data))
    };
    Ok(x.dq(&name, q))
}

/// The quantization of both operands of a `BinaryI8`; a constant's scale the tensor table
/// does not record is recovered from the kernel's multipliers.
fn binary_quants(
    x: &Exporter<'_>,
    op: &BinaryI8,
    out: TensorQuant,
) -> Result<(TensorQuant, TensorQuant), ExportError> {
    let recovered = |constant_is_a: bool, other: TensorQuant| {
        let zero_point = op.zero_points[usize::from(!constant_is_a)];
        binary_constant_scale(op, constant_is_a, other.scale, out.scale)
            .map(|scale| TensorQuant { scale, zero_point })
            .ok_or_else(|| x.fail("an int8 constant operand's scale cannot be recovered"))
    };
    match (operand_quant(x, op.a)?, operand_quant(x, op.b)?) {
        (Some(a), Some(b)) => Ok((a, b)),
        (Some(a), None) => Ok((a, recovered(false, a)?)),
        (None, Some(b)) => Ok((recovered(true, b)?, b)),
        (None, None) => Err(x.fail("neither operand has a recorded scale")),
    }
}

/// `BinaryI8`: Add, Sub or Mul of two dequantized operands.
pub fn binary(x: &mut Exporter<'_>, tensor: u32, op: &BinaryI8) -> Result<(), ExportError> {
    let dims = |s: &whittle_runtime::format::Shape| {
        s.dims().iter().map(|&d| i64::from(d)).collect::<Vec<_>>()
    };
    let out_q = x.out_quant(tensor)?;
    same_zp(x, "output", op.zero_points[2], out_q)?;
    let (qa, qb) = binary_quants(x, op, out_q)?;
    let a = dq_operand(x, op.a, &dims(&op.a_shape), qa, op.zero_points[0])?;
    let b = dq_operand(x, op.b, &dims(&op.b_shape), qb, op.zero_points[1])?;
    let kind = match op.kind {
        BinaryKindI8::Add => "Add",
        BinaryKindI8::Sub => "Sub",
        BinaryKindI8::Mul => "Mul",
    };
    let y = x.b.node(kind, &[&a, &b], vec![]);
    let y = requantize(x, &y, (op.act_min, op.act_max), out_q);
    x.define(tensor, op.output, &y, &dims(&op.out_shape), DType::I8)
}

/// `Pool2dI8`: max or average pooling between a dequantize and a quantize.
pub fn pool(x: &mut Exporter<'_>, tensor: u32, op: &Pool2dI8) -> Result<(), ExportError> {
    let g = &op.geom;
    let (input, v) = x.operand(op.input, &geo::pool_input(g))?;
    let (in_q, out_q) = (x.quant_of(&v)?, x.out_quant(tensor)?);
    same_zp(x, "input", op.zero_point, in_q)?;
    same_zp(x, "output", op.zero_point, out_q)?;
    let (name, attrs) = geo::pool_op(x, g, op.kind)?;
    let nchw = x.transpose4(&input, TO_NCHW);
    let xf = x.dq(&nchw, in_q);
    let y = x.b.node(name, &[&xf], attrs);
    let y = requantize(x, &y, (op.act_min, op.act_max), out_q);
    let y = x.transpose4(&y, TO_NHWC);
    x.define(tensor, op.output, &y, &geo::pool_output(g), DType::I8)
}

/// `GlobalPoolI8`: a mean or max over the spatial axis of `[batch][spatial][channels]`.
pub fn global_pool(x: &mut Exporter<'_>, tensor: u32, op: &GlobalPool) -> Result<(), ExportError> {
    let dims = [op.batch, op.spatial, op.channels].map(i64::from);
    let (input, v) = x.operand(op.input, &dims)?;
    let (in_q, out_q) = (x.quant_of(&v)?, x.out_quant(tensor)?);
    let xf = x.dq(&input, in_q);
    let y = super::float::reduce(x, &xf, op.kind);
    let y = x.q(&y, out_q);
    x.define(tensor, op.output, &y, &[dims[0], dims[2]], DType::I8)
}

/// `SoftmaxI8`: the float softmax, quantized to the fixed 1/256 scale and zero point -128.
pub fn softmax(x: &mut Exporter<'_>, tensor: u32, op: &SoftmaxI8) -> Result<(), ExportError> {
    let dims = [op.outer, op.axis, op.inner].map(i64::from);
    let (input, v) = x.operand(op.input, &dims)?;
    let (in_q, out_q) = (x.quant_of(&v)?, x.out_quant(tensor)?);
    if out_q.scale != 1.0 / 256.0 || out_q.zero_point != -128 {
        return Err(x.fail(format!(
            "output scale {} and zero point {}, the kernel writes 1/256 and -128",
            out_q.scale, out_q.zero_point
        )));
    }
    let xf = x.dq(&input, in_q);
    let y = x.b.node("Softmax", &[&xf], vec![("axis", Attr::Int(1))]);
    // The output's scale is written once per softmax row element (all equal: per-tensor
    // quantization exactly). A scalar scale would make tract's optimizer fold the
    // dequantize-softmax-quantize chain into a 256-entry lookup table as though softmax
    // were element-wise, which computes something else.
    let n = op.axis as usize;
    let s = x.konst("scale", &Tensor::f32(vec![n], vec![out_q.scale; n]));
    let z = x.konst(
        "zero_point",
        &Tensor::int(ElemType::I8, vec![n], vec![i64::from(out_q.zero_point); n]),
    );
    let y = x.b.node(
        "QuantizeLinear",
        &[&y, &s, &z],
        vec![("axis", Attr::Int(1))],
    );
    x.define(tensor, op.output, &y, &dims, DType::I8)
}

/// `LookupI8`: `Gather` of the 256-entry table at `x + 128`, exact.
pub fn lookup(x: &mut Exporter<'_>, tensor: u32, op: &LookupI8) -> Result<(), ExportError> {
    let v = x.read(op.input)?;
    if v.dtype != DType::I8 {
        return Err(x.fail("its input is not int8"));
    }
    let table: Vec<i64> = x.i8s(op.table)?.into_iter().map(i64::from).collect();
    if table.len() != 256 {
        return Err(x.fail(format!("a table of {} entries, not 256", table.len())));
    }
    let table = x.konst("table", &Tensor::int(ElemType::I8, vec![256], table));
    let wide = x.b.node(
        "Cast",
        &[&v.name],
        vec![("to", Attr::Int(ElemType::I64.onnx_code().into()))],
    );
    let offset = x.konst("offset", &Tensor::int(ElemType::I64, vec![], vec![128]));
    let index = x.b.node("Add", &[&wide, &offset], vec![]);
    let y =
        x.b.node("Gather", &[&table, &index], vec![("axis", Attr::Int(0))]);
    x.define(tensor, op.output, &y, &v.dims, DType::I8)
}

/// `RequantizeI8`: dequantize with the input's parameters, quantize with the output's.
pub fn requantize_op(
    x: &mut Exporter<'_>,
    tensor: u32,
    op: &RequantizeI8,
) -> Result<(), ExportError> {
    let v = x.read(op.input)?;
    let (in_q, out_q) = (x.quant_of(&v)?, x.out_quant(tensor)?);
    same_zp(x, "input", op.input_zp, in_q)?;
    same_zp(x, "output", op.output_zp, out_q)?;
    let y = x.dq(&v.name, in_q);
    let y = x.q(&y, out_q);
    x.define(tensor, op.output, &y, &v.dims, DType::I8)
}

/// `Quantize`: float32 to int8.
pub fn quantize(x: &mut Exporter<'_>, tensor: u32, op: &Quantize) -> Result<(), ExportError> {
    let v = x.read(op.input)?;
    let q = TensorQuant {
        scale: op.scale,
        zero_point: op.zero_point,
    };
    let y = x.q(&v.name, q);
    x.define(tensor, op.output, &y, &v.dims, DType::I8)?;
    x.set_quant(op.output, Some(q));
    Ok(())
}

/// `Dequantize`: int8 to float32.
pub fn dequantize(x: &mut Exporter<'_>, tensor: u32, op: &Dequantize) -> Result<(), ExportError> {
    let v = x.read(op.input)?;
    let q = TensorQuant {
        scale: op.scale,
        zero_point: op.zero_point,
    };
    let y = x.dq(&v.name, q);
    x.define(tensor, op.output, &y, &v.dims, DType::F32)?;
    x.set_quant(op.output, None);
    Ok(())
}
