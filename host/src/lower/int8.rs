//! Lowering of int8 operators: requantization multipliers, biases and weight tables are
//! computed here from the tensors' quantization parameters (TFLite int8 arithmetic).

use super::layout::{channels_last, identity};
use super::{Loc, Lowered, Lowerer, placeholder, shape};
use crate::error::CompileError;
use crate::ir::{ConvAttrs, Node, Op, PoolAttrs, Quant, ValueId};
use whittle_runtime::DType;
use whittle_runtime::format::{
    Activation, BinaryI8, BinaryKind, BinaryKindI8, Conv2dI8, ConvGeometry, DenseI8, GlobalPool,
    LookupI8, OpKind, Pool2dI8, PoolGeometry, Requant, RequantizeI8, SoftmaxI8, TensorQuant,
};
use whittle_runtime::kernels::fixedpoint::quantize_multiplier;

/// Extra precision bits of int8 Add/Sub (TFLite's value).
const ADD_LEFT_SHIFT: u8 = 20;

fn u32_of(v: usize, l: &Lowerer<'_>) -> Result<u32, CompileError> {
    u32::try_from(v).map_err(|_| l.fail(format!("size {v} exceeds 32 bits")))
}

/// The per-tensor quantization of an int8 value.
fn params(l: &Lowerer<'_>, v: ValueId) -> Result<TensorQuant, CompileError> {
    match &l.g.values[v].quant {
        Some(q) if q.is_per_tensor() => Ok(TensorQuant {
            scale: q.scale[0],
            zero_point: q.zero_point[0] as i32,
        }),
        _ => Err(l.fail(format!(
            "int8 tensor '{}' has no per-tensor scale",
            l.g.values[v].name
        ))),
    }
}

/// `real` quantized with `q`, saturated to int8.
fn quantize(real: f32, q: TensorQuant) -> i32 {
    ((real / q.scale).round_ties_even() as i64 + i64::from(q.zero_point)).clamp(-128, 127) as i32
}

/// The output clamp of a fused activation, in the output's quantized domain.
fn act_range(act: Activation, q: TensorQuant) -> (i8, i8) {
    match act {
        Activation::None => (-128, 127),
        Activation::Relu => (quantize(0.0, q) as i8, 127),
        Activation::Clip { min, max } => (quantize(min, q) as i8, quantize(max, q) as i8),
    }
}

fn i32_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Stores requantization tables for `real` multipliers (one, or one per channel).
fn requant(l: &mut Lowerer<'_>, real: &[f64]) -> Requant {
    let (multipliers, shifts): (Vec<i32>, Vec<u8>) = real
        .iter()
        .map(|&r| {
            let (m, s) = quantize_multiplier(r);
            (m, s as i8 as u8)
        })
        .unzip();
    let n = multipliers.len();
    let m = l.add_weight(i32_bytes(&multipliers));
    let s = l.add_weight(shifts);
    Requant {
        multipliers: placeholder(m, n * 4),
        shifts: placeholder(s, n),
    }
}

/// `value` as int8 in layout `perm`: a run-time tensor, or a constant quantized with its own
/// `value` as int8 in layout `perm`: a run-time tensor, or a constant quantized with its own
/// parameters (exact integers when it came from a DequantizeLinear).
pub(super) fn get_int8(
    l: &mut Lowerer<'_>,
    value: ValueId,
    perm: &[usize],
) -> Result<Lowered, CompileError> {
    if let Some(t) = l.g.konst(value) {
        let shape = t.shape.clone();
        return constant_int8(l, value, &shape, perm);
    }
    let x = l.get(value, perm)?;
    if x.dtype != DType::I8 {
        return Err(l.fail(format!("'{}' is not int8", l.g.values[value].name)));
    }
    Ok(x)
}

/// The constant `value` viewed with `shape` (its own, or with leading unit axes) as int8 in
/// layout `perm`.
pub(super) fn constant_int8(
    l: &mut Lowerer<'_>,
    value: ValueId,
    shape: &[usize],
    perm: &[usize],
) -> Result<Lowered, CompileError> {
    let q = params(l, value)?;
    let v = &l.g.values[value];
    let t = v.konst.as_ref().ok_or_else(|| l.fail("not a constant"))?;
    let ints: Vec<i64> = match v.quant.as_ref().and_then(|q| q.ints.as_ref()) {
        Some(ints) => ints.reshaped(shape.to_vec()).transposed(perm).to_i64(),
        None => t
            .reshaped(shape.to_vec())
            .transposed(perm)
            .to_f32()
            .iter()
            .map(|&x| i64::from(quantize(x, q)))
            .collect(),
    };
    let loc = l.add_weight(
        ints.iter()
            .map(|&x| x.clamp(-128, 127) as i8 as u8)
            .collect(),
    );
    Ok(Lowered {
        loc,
        shape: shape.to_vec(),
        perm: perm.to_vec(),
        dtype: DType::I8,
        quant: Some(q),
    })
}

/// `x` converted to the parameters `q` (a requantization), or `x` itself when they match.
pub(super) fn with_params(
    l: &mut Lowerer<'_>,
    x: Lowered,
    q: TensorQuant,
) -> Result<Lowered, CompileError> {
    let from = x
        .quant
        .ok_or_else(|| l.fail("int8 tensor without quantization"))?;
    if from == q {
        return Ok(x);
    }
    let y = l.fresh_typed(&x.shape, x.perm.clone(), DType::I8, Some(q));
    let op = OpKind::RequantizeI8(RequantizeI8 {
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        len: u32_of(x.shape.iter().product(), l)?,
        input_zp: from.zero_point,
        output_zp: q.zero_point,
        scale: quantize_multiplier(f64::from(from.scale) / f64::from(q.scale)),
    });
    let name = format!(
        "{}.requantized",
        l.node.map(|n| n.name.as_str()).unwrap_or("tensor")
    );
    l.emit(op, &name, &y, None);
    Ok(y)
}

/// Whether `node` computes on int8 (its first run-time input is int8).
pub(super) fn is_int8(l: &Lowerer<'_>, node: &Node) -> bool {
    let computes = matches!(
        node.op,
        Op::Conv(_)
            | Op::Linear { .. }
            | Op::Binary { .. }
            | Op::Pool(_)
            | Op::GlobalPool(_)
            | Op::Softmax { .. }
            | Op::Unary(_)
    );
    computes
        && node
            .inputs
            .iter()
            .flatten()
            .find(|&&v| l.g.konst(v).is_none())
            .is_some_and(|&v| l.g.values[v].dtype == crate::tensor::ElemType::I8)
}

/// Weights of a convolution or linear layer: exact integers, per-channel scales.
fn weights(l: &Lowerer<'_>, w: ValueId) -> Result<(crate::tensor::Tensor, Quant), CompileError> {
    let name = &l.g.values[w].name;
    let q = l.g.values[w]
        .quant
        .clone()
        .ok_or_else(|| l.fail(format!("weights '{name}' are not quantized")))?;
    let ints = q
        .ints
        .clone()
        .ok_or_else(|| l.fail(format!("weights '{name}' have no integers")))?;
    if q.zero_point.iter().any(|&z| z != 0) {
        return Err(l.fail(format!(
            "weights '{name}' have a non-zero zero point (int8 weights are symmetric)"
        )));
    }
    if ints.to_i64().iter().any(|&v| !(-128..=127).contains(&v)) {
        return Err(l.fail(format!("weights '{name}' are not int8")));
    }
    Ok((ints, q))
}

/// Bias as int32 in units of `input_scale * weight_scale[c]`.
fn bias(
    l: &mut Lowerer<'_>,
    b: Option<ValueId>,
    input_scale: f32,
    weight_scales: &[f32],
    channels: usize,
) -> Result<Option<Loc>, CompileError> {
    let Some(b) = b else { return Ok(None) };
    let scale = |c: usize| {
        f64::from(input_scale)
            * f64::from(weight_scales[if weight_scales.len() == 1 { 0 } else { c }])
    };
    let value = &l.g.values[b];
    let ints: Vec<i32> = match (&value.quant, &value.konst) {
        (
            Some(Quant {
                ints: Some(ints), ..
            }),
            _,
        ) => ints.to_i64().iter().map(|&v| v as i32).collect(),
        (_, Some(t)) => t
            .to_f32()
            .iter()
            .enumerate()
            .map(|(c, &v)| (f64::from(v) / scale(c)).round() as i32)
            .collect(),
        _ => return Err(l.fail("the bias must be a constant")),
    };
    if ints.len() != channels {
        return Err(l.fail(format!(
            "{} bias values for {channels} channels",
            ints.len()
        )));
    }
    Ok(Some(l.add_weight(i32_bytes(&ints))))
}

/// Lowers an int8 node.
pub(super) fn lower_node(l: &mut Lowerer<'_>, node: &Node) -> Result<(), CompileError> {
    match &node.op {
        Op::Conv(a) => conv(l, node, a),
        Op::Linear { act } => linear(l, node, *act),
        Op::Binary { kind, act } => binary(l, node, *kind, *act),
        Op::Pool(a) => pool(l, node, a),
        Op::GlobalPool(kind) => global_pool(l, node, *kind),
        Op::Softmax { axis, .. } => softmax(l, node, *axis as usize),
        Op::Unary(kind) => lookup(l, node, *kind),
        other => Err(l.fail(format!("{other:?} has no int8 kernel"))),
    }
}

/// Emits the operator and defines the node's output; converts to the output's parameters
/// when the kernel produced others.
fn finish(
    l: &mut Lowerer<'_>,
    node: &Node,
    kind: OpKind,
    y: Lowered,
    want: TensorQuant,
) -> Result<(), CompileError> {
    let out = node.outputs[0];
    let name = l.g.values[out].name.clone();
    l.emit(kind, &name, &y, Some(out));
    let y = with_params(l, y, want)?;
    l.define(out, y);
    Ok(())
}

fn conv(l: &mut Lowerer<'_>, node: &Node, a: &ConvAttrs) -> Result<(), CompileError> {
    let (x_id, w_id, out) = (l.required(node, 0)?, l.required(node, 1)?, node.outputs[0]);
    let rank = l.g.shape(x_id).len();
    let x = get_int8(l, x_id, &channels_last(rank))?;
    let (xq, yq) = (params(l, x_id)?, params(l, out)?);
    let (ints, wq) = weights(l, w_id)?;
    let w_data: Vec<u8> = ints
        .transposed(&channels_last(rank))
        .to_i64()
        .iter()
        .map(|&v| v as i8 as u8)
        .collect();
    let w_loc = l.add_weight(w_data);
    let channels = ints.shape[0];
    let bias = bias(l, node.input(2), xq.scale, &wq.scale, channels)?;
    let real: Vec<f64> = wq
        .scale
        .iter()
        .map(|&s| f64::from(xq.scale) * f64::from(s) / f64::from(yq.scale))
        .collect();
    let requant = requant(l, &real);
    let out_shape = l.g.shape(out).to_vec();
    let y = l.fresh_typed(&out_shape, channels_last(rank), DType::I8, Some(yq));
    let geom = conv_geometry(l, a, &x.shape, &ints.shape, &out_shape)?;
    let (act_min, act_max) = act_range(a.act, yq);
    let kind = OpKind::Conv2dI8(Conv2dI8 {
        input: placeholder(x.loc, x.bytes()),
        weights: placeholder(w_loc, ints.len()),
        bias: bias.map(|b| placeholder(b, channels * 4)),
        output: placeholder(y.loc, y.bytes()),
        geom,
        requant,
        input_zp: xq.zero_point,
        output_zp: yq.zero_point,
        act_min,
        act_max,
    });
    finish(l, node, kind, y, yq)
}

/// The runtime geometry of a 1-D or 2-D convolution (shared with the float lowering).
fn conv_geometry(
    l: &Lowerer<'_>,
    a: &ConvAttrs,
    xs: &[usize],
    ws: &[usize],
    out: &[usize],
) -> Result<ConvGeometry, CompileError> {
    super::ops::conv_geometry(l, a, xs, ws, out)
}

fn linear(l: &mut Lowerer<'_>, node: &Node, act: Activation) -> Result<(), CompileError> {
    let (x_id, w_id, out) = (l.required(node, 0)?, l.required(node, 1)?, node.outputs[0]);
    let x = get_int8(l, x_id, &identity(l.g.shape(x_id).len()))?;
    let (xq, yq) = (params(l, x_id)?, params(l, out)?);
    let (ints, wq) = weights(l, w_id)?;
    let (k, n) = (ints.shape[0], ints.shape[1]);
    if !(wq.is_per_tensor() || wq.axis == 1) {
        return Err(l.fail(
            "per-channel weights of a linear layer must be quantized along the output axis",
        ));
    }
    let w_data: Vec<u8> = ints
        .transposed(&[1, 0])
        .to_i64()
        .iter()
        .map(|&v| v as i8 as u8)
        .collect();
    let w_loc = l.add_weight(w_data);
    let bias = bias(l, node.input(2), xq.scale, &wq.scale, n)?;
    let real: Vec<f64> = wq
        .scale
        .iter()
        .map(|&s| f64::from(xq.scale) * f64::from(s) / f64::from(yq.scale))
        .collect();
    let requant = requant(l, &real);
    let out_shape = l.g.shape(out).to_vec();
    let y = l.fresh_typed(&out_shape, identity(out_shape.len()), DType::I8, Some(yq));
    let (act_min, act_max) = act_range(act, yq);
    let kind = OpKind::DenseI8(DenseI8 {
        input: placeholder(x.loc, x.bytes()),
        weights: placeholder(w_loc, k * n),
        bias: bias.map(|b| placeholder(b, n * 4)),
        output: placeholder(y.loc, y.bytes()),
        rows: u32_of(x.shape.iter().product::<usize>() / k.max(1), l)?,
        in_features: u32_of(k, l)?,
        out_features: u32_of(n, l)?,
        requant,
        input_zp: xq.zero_point,
        output_zp: yq.zero_point,
        act_min,
        act_max,
    });
    finish(l, node, kind, y, yq)
}

fn binary(
    l: &mut Lowerer<'_>,
    node: &Node,
    kind: BinaryKind,
    act: Activation,
) -> Result<(), CompileError> {
    let out = node.outputs[0];
    let out_shape = l.g.shape(out).to_vec();
    let rank = out_shape.len();
    let ids = [l.required(node, 0)?, l.required(node, 1)?];
    let chosen = l.common_layout(&ids, rank);
    let operands = l.broadcast_operands(&ids, rank, &chosen, true)?;
    let (aq, bq) = (
        operands[0].quant.expect("int8"),
        operands[1].quant.expect("int8"),
    );
    let yq = params(l, out)?;
    let (sa, sb, so) = (
        f64::from(aq.scale),
        f64::from(bq.scale),
        f64::from(yq.scale),
    );
    let (op_kind, a_scale, b_scale, out_scale) = match kind {
        BinaryKind::Add | BinaryKind::Sub => {
            let twice_max = 2.0 * sa.max(sb);
            let k = if kind == BinaryKind::Add {
                BinaryKindI8::Add
            } else {
                BinaryKindI8::Sub
            };
            let out = twice_max / ((1u64 << ADD_LEFT_SHIFT) as f64 * so);
            (
                k,
                quantize_multiplier(sa / twice_max),
                quantize_multiplier(sb / twice_max),
                quantize_multiplier(out),
            )
        }
        BinaryKind::Mul => (
            BinaryKindI8::Mul,
            (0, 0),
            (0, 0),
            quantize_multiplier(sa * sb / so),
        ),
        other => return Err(l.fail(format!("{other:?} has no int8 kernel"))),
    };
    let y = l.fresh_typed(&out_shape, chosen, DType::I8, Some(yq));
    let (act_min, act_max) = act_range(act, yq);
    let phys = |t: &Lowered| shape(&t.physical());
    let op = OpKind::BinaryI8(BinaryI8 {
        kind: op_kind,
        a: placeholder(operands[0].loc, operands[0].bytes()),
        b: placeholder(operands[1].loc, operands[1].bytes()),
        output: placeholder(y.loc, y.bytes()),
        a_shape: phys(&operands[0])?,
        b_shape: phys(&operands[1])?,
        out_shape: phys(&y)?,
        zero_points: [aq.zero_point, bq.zero_point, yq.zero_point],
        a_scale,
        b_scale,
        out_scale,
        left_shift: ADD_LEFT_SHIFT,
        act_min,
        act_max,
    });
    finish(l, node, op, y, yq)
}

fn pool(l: &mut Lowerer<'_>, node: &Node, a: &PoolAttrs) -> Result<(), CompileError> {
    let (x_id, out) = (l.required(node, 0)?, node.outputs[0]);
    let rank = l.g.shape(x_id).len();
    let x = get_int8(l, x_id, &channels_last(rank))?;
    let xq = x.quant.expect("int8");
    let out_shape = l.g.shape(out).to_vec();
    // Pooling keeps the input's parameters; a requantization follows when the output's differ.
    let y = l.fresh_typed(&out_shape, channels_last(rank), DType::I8, Some(xq));
    let geom: PoolGeometry = super::ops::pool_geometry(l, a, &x.shape, &out_shape)?;
    let op = OpKind::Pool2dI8(Pool2dI8 {
        kind: a.kind,
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        geom,
        zero_point: xq.zero_point,
        act_min: -128,
        act_max: 127,
    });
    let yq = params(l, out)?;
    finish(l, node, op, y, yq)
}

fn global_pool(
    l: &mut Lowerer<'_>,
    node: &Node,
    kind: whittle_runtime::format::PoolKind,
) -> Result<(), CompileError> {
    let (x_id, out) = (l.required(node, 0)?, node.outputs[0]);
    let rank = l.g.shape(x_id).len();
    let x = get_int8(l, x_id, &channels_last(rank))?;
    let xq = x.quant.expect("int8");
    let phys = x.physical();
    let out_shape = l.g.shape(out).to_vec();
    let y = l.fresh_typed(&out_shape, identity(out_shape.len()), DType::I8, Some(xq));
    let op = OpKind::GlobalPoolI8(GlobalPool {
        kind,
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        batch: u32_of(phys[0], l)?,
        spatial: u32_of(phys[1..phys.len() - 1].iter().product(), l)?,
        channels: u32_of(phys[phys.len() - 1], l)?,
    });
    let yq = params(l, out)?;
    finish(l, node, op, y, yq)
}

fn softmax(l: &mut Lowerer<'_>, node: &Node, axis: usize) -> Result<(), CompileError> {
    let (x_id, out) = (l.required(node, 0)?, node.outputs[0]);
    let (_, x) = l.input_as_is(node, 0)?;
    let xq = params(l, x_id)?;
    let phys = x.physical();
    let p = x
        .perm
        .iter()
        .position(|&a| a == axis)
        .expect("axis in permutation");
    // exp(-d * scale) in Q16 for d = 1..=255, without its trailing zeros (d = 0 is implicit).
    let mut table: Vec<u16> = (1..256)
        .map(|d| {
            (f64::exp(-f64::from(d) * f64::from(xq.scale)) * 65536.0)
                .round()
                .min(65535.0) as u16
        })
        .collect();
    while table.last() == Some(&0) {
        table.pop();
    }
    let table_bytes = table.len() * 2;
    let table_loc = l.add_weight(table.iter().flat_map(|v| v.to_le_bytes()).collect());
    let fixed = TensorQuant {
        scale: 1.0 / 256.0,
        zero_point: -128,
    };
    let out_shape = l.g.shape(out).to_vec();
    let y = l.fresh_typed(&out_shape, x.perm.clone(), DType::I8, Some(fixed));
    let op = OpKind::SoftmaxI8(SoftmaxI8 {
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        outer: u32_of(phys[..p].iter().product(), l)?,
        axis: u32_of(phys[p], l)?,
        inner: u32_of(phys[p + 1..].iter().product(), l)?,
        table: placeholder(table_loc, table_bytes),
    });
    let yq = params(l, out)?;
    finish(l, node, op, y, yq)
}

fn lookup(
    l: &mut Lowerer<'_>,
    node: &Node,
    kind: whittle_runtime::format::UnaryKind,
) -> Result<(), CompileError> {
    let (x_id, out) = (l.required(node, 0)?, node.outputs[0]);
    let (_, x) = l.input_as_is(node, 0)?;
    let (xq, yq) = (params(l, x_id)?, params(l, out)?);
    let table: Vec<u8> = (-128i32..=127)
        .map(|q| {
            let real = (q - xq.zero_point) as f32 * xq.scale;
            quantize(whittle_runtime::kernels::unary::apply(kind, real), yq) as i8 as u8
        })
        .collect();
    let table_loc = l.add_weight(table);
    let out_shape = l.g.shape(out).to_vec();
    let y = l.fresh_typed(&out_shape, x.perm.clone(), DType::I8, Some(yq));
    let op = OpKind::LookupI8(LookupI8 {
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        len: u32_of(out_shape.iter().product(), l)?,
        table: placeholder(table_loc, 256),
    });
    finish(l, node, op, y, yq)
}
