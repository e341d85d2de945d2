//! Lowering of each IR operator to runtime operators.

use super::layout::{self, channels_last, identity};
use super::{Lowered, Lowerer, placeholder, shape};
use crate::error::CompileError;
use crate::ir::{ConvAttrs, Node, Op, PoolAttrs, SliceAttrs};
use whittle_runtime::DType;
use whittle_runtime::format::{
    Activation, Binary, BinaryKind, Conv2d, ConvGeometry, Copy, Dense, Dequantize, GlobalPool,
    MAX_RANK, MatMul, OpKind, Pad, Pool2d, PoolGeometry, Quantize, Softmax, Unary,
};

fn u32_of(v: usize, l: &Lowerer<'_>) -> Result<u32, CompileError> {
    u32::try_from(v).map_err(|_| l.fail(format!("size {v} exceeds 32 bits")))
}

pub(super) fn lower_node(l: &mut Lowerer<'_>, node: &Node) -> Result<(), CompileError> {
    if super::int8::is_int8(l, node) {
        return super::int8::lower_node(l, node);
    }
    let out = node.outputs[0];
    let out_shape = l.g.shape(out).to_vec();
    match &node.op {
        Op::Conv(attrs) => conv(l, node, attrs),
        Op::Pool(attrs) => pool(l, node, attrs),
        Op::GlobalPool(kind) => {
            let x = l.get(l.required(node, 0)?, &channels_last(out_shape.len()))?;
            let phys = x.physical();
            let (batch, channels) = (phys[0], phys[phys.len() - 1]);
            let spatial = phys[1..phys.len() - 1].iter().product();
            let y = l.fresh(&out_shape, identity(out_shape.len()));
            let kind = OpKind::GlobalPool(GlobalPool {
                kind: *kind,
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                batch: u32_of(batch, l)?,
                spatial: u32_of(spatial, l)?,
                channels: u32_of(channels, l)?,
            });
            finish(l, node, kind, y)
        }
        Op::Linear { act } => linear(l, node, *act),
        Op::MatMul => matmul(l, node),
        Op::Binary { kind, act } => binary(l, node, *kind, *act),
        Op::Unary(kind) => {
            let (_, x) = l.input_as_is(node, 0)?;
            let y = l.fresh(&out_shape, x.perm.clone());
            let op = OpKind::Unary(Unary {
                kind: *kind,
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                len: u32_of(out_shape.iter().product(), l)?,
            });
            finish(l, node, op, y)
        }
        Op::Softmax {
            axis,
            log,
            coerce_2d,
        } => {
            let axis = *axis as usize;
            let x = if *coerce_2d {
                l.get(l.required(node, 0)?, &identity(out_shape.len()))?
            } else {
                l.input_as_is(node, 0)?.1
            };
            let phys = x.physical();
            let p = x
                .perm
                .iter()
                .position(|&a| a == axis)
                .expect("axis in permutation");
            let (outer, axis_len, inner) = if *coerce_2d {
                (
                    phys[..axis].iter().product(),
                    phys[axis..].iter().product(),
                    1,
                )
            } else {
                (
                    phys[..p].iter().product::<usize>(),
                    phys[p],
                    phys[p + 1..].iter().product::<usize>(),
                )
            };
            let y = l.fresh(&out_shape, x.perm.clone());
            let op = OpKind::Softmax(Softmax {
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                outer: u32_of(outer, l)?,
                axis: u32_of(axis_len, l)?,
                inner: u32_of(inner, l)?,
                log: *log,
            });
            finish(l, node, op, y)
        }
        Op::Reshape { .. } => {
            let x = l.get(
                l.required(node, 0)?,
                &identity(l.g.shape(l.required(node, 0)?).len()),
            )?;
            l.define(
                out,
                Lowered {
                    shape: out_shape.clone(),
                    perm: identity(out_shape.len()),
                    ..x
                },
            );
            Ok(())
        }
        Op::Identity => {
            let (_, x) = l.input_as_is(node, 0)?;
            l.define(out, x);
            Ok(())
        }
        Op::Transpose { perm: Some(t) } => {
            // Relabel instead of moving bytes: output physical axis p holds logical axis
            // inverse(t)[input.perm[p]].
            let (_, x) = l.input_as_is(node, 0)?;
            let inv = layout::inverse(t);
            let perm = x.perm.iter().map(|&p| inv[p]).collect();
            l.define(
                out,
                Lowered {
                    shape: out_shape,
                    perm,
                    ..x
                },
            );
            Ok(())
        }
        Op::Concat { axis } => concat(l, node, *axis as usize),
        Op::Slice {
            attrs:
                Some(SliceAttrs {
                    starts,
                    ends,
                    axes: Some(axes),
                }),
        } => {
            let (_, mut x) = l.input_as_is(node, 0)?;
            for i in 0..axes.len() {
                let axis = axes[i] as usize;
                let (start, len) = (starts[i] as usize, (ends[i] - starts[i]) as usize);
                if start == 0 && len == x.shape[axis] {
                    continue;
                }
                x = narrow(l, node, &x, axis, start, len)?;
            }
            l.define(out, x);
            Ok(())
        }
        Op::Split {
            axis,
            split: Some(sizes),
        } => {
            let (_, x) = l.input_as_is(node, 0)?;
            let axis = *axis as usize;
            let mut start = 0;
            for (i, &size) in sizes.iter().enumerate() {
                let part = narrow(l, node, &x, axis, start, size as usize)?;
                start += size as usize;
                l.define(node.outputs[i], part);
            }
            Ok(())
        }
        Op::Pad {
            pads: Some(pads),
            value,
        } => {
            let (_, x) = l.input_as_is(node, 0)?;
            let phys_in = x.physical();
            let y = l.fresh_typed(&out_shape, x.perm.clone(), x.dtype, x.quant);
            let mut begin = [0u32; MAX_RANK];
            for (i, &p) in x.perm.iter().enumerate() {
                begin[i] = u32_of(pads[p] as usize, l)?;
            }
            // An int8 tensor is padded with the pad value quantized (exact: checked by the
            // pass that made the padding int8).
            let value_bits = match x.quant {
                Some(q) => (((*value / q.scale).round() as i32 + q.zero_point).clamp(-128, 127)
                    as i8 as u8)
                    .into(),
                None => value.to_bits(),
            };
            let op = OpKind::Pad(Pad {
                dtype: x.dtype,
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                in_shape: shape(&phys_in)?,
                out_shape: shape(&y.physical())?,
                begin,
                value_bits,
            });
            finish(l, node, op, y)
        }
        Op::Quantize { .. } => {
            let (_, x) = l.input_as_is(node, 0)?;
            let (_, yq) = super::runtime_type(&l.g.values[out]).map_err(|e| l.fail(e))?;
            let yq = yq.ok_or_else(|| l.fail("QuantizeLinear output without parameters"))?;
            if x.dtype == DType::I8 {
                let y = super::int8::with_params(l, x, yq)?;
                l.define(out, y);
                return Ok(());
            }
            let y = l.fresh_typed(&out_shape, x.perm.clone(), DType::I8, Some(yq));
            let op = OpKind::Quantize(Quantize {
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                len: u32_of(out_shape.iter().product(), l)?,
                scale: yq.scale,
                zero_point: yq.zero_point,
            });
            finish(l, node, op, y)
        }
        Op::Dequantize { .. } => {
            let (_, x) = l.input_as_is(node, 0)?;
            let xq = x
                .quant
                .ok_or_else(|| l.fail("DequantizeLinear input without parameters"))?;
            let y = l.fresh(&out_shape, x.perm.clone());
            let op = OpKind::Dequantize(Dequantize {
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                len: u32_of(out_shape.iter().product(), l)?,
                scale: xq.scale,
                zero_point: xq.zero_point,
            });
            finish(l, node, op, y)
        }
        other => Err(l.fail(format!("operator {other:?} cannot be lowered"))),
    }
}

/// Emits `kind` for `node`, whose (first) output is `y`.
fn finish(l: &mut Lowerer<'_>, node: &Node, kind: OpKind, y: Lowered) -> Result<(), CompileError> {
    let name = l.g.values[node.outputs[0]].name.clone();
    l.emit(kind, &name, &y, Some(node.outputs[0]));
    l.define(node.outputs[0], y);
    Ok(())
}

/// Copies `len` entries starting at `start` along logical `axis` into a new tensor.
fn narrow(
    l: &mut Lowerer<'_>,
    node: &Node,
    x: &Lowered,
    axis: usize,
    start: usize,
    len: usize,
) -> Result<Lowered, CompileError> {
    let phys = x.physical();
    let p = x
        .perm
        .iter()
        .position(|&a| a == axis)
        .expect("axis in permutation");
    let inner = phys[p + 1..].iter().product::<usize>() * x.dtype.size();
    let mut shape = x.shape.clone();
    shape[axis] = len;
    let y = l.fresh_typed(&shape, x.perm.clone(), x.dtype, x.quant);
    let op = OpKind::Copy(Copy {
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        blocks: u32_of(phys[..p].iter().product(), l)?,
        block_bytes: u32_of(len * inner, l)?,
        src_stride: u32_of(phys[p] * inner, l)?,
        src_offset: u32_of(start * inner, l)?,
        dst_stride: u32_of(len * inner, l)?,
        dst_offset: 0,
    });
    let name = format!("{}.slice{axis}", l.g.values[node.outputs[0]].name);
    l.emit(op, &name, &y, None);
    Ok(y)
}

fn conv(l: &mut Lowerer<'_>, node: &Node, a: &ConvAttrs) -> Result<(), CompileError> {
    let (x_id, w_id) = (l.required(node, 0)?, l.required(node, 1)?);
    let rank = l.g.shape(x_id).len();
    let x = l.get(x_id, &channels_last(rank))?;
    // Weights [M, C/g, k..] are stored [M, k.., C/g]: the same permutation as activations.
    let w = l.get(w_id, &channels_last(rank))?;
    let bias = match node.input(2) {
        Some(b) => Some(l.get(b, &[0])?),
        None => None,
    };
    let out_shape = l.g.shape(node.outputs[0]).to_vec();
    let y = l.fresh(&out_shape, channels_last(rank));
    let geom = conv_geometry(l, a, &x.shape, &w.shape, &out_shape)?;
    let op = OpKind::Conv2d(Conv2d {
        input: placeholder(x.loc, x.bytes()),
        weights: placeholder(w.loc, w.bytes()),
        bias: bias.as_ref().map(|b| placeholder(b.loc, b.bytes())),
        output: placeholder(y.loc, y.bytes()),
        geom,
        act: a.act,
    });
    finish(l, node, op, y)
}

/// Picks the value of a 2-D parameter, or the 1-D stand-in (a height of 1).
fn pick(rank: usize, v: &[usize], two_d_index: usize, one_d: usize) -> usize {
    if rank == 4 { v[two_d_index] } else { one_d }
}

/// Runtime geometry of a 1-D or 2-D convolution over logical shapes `xs`, `ws`, `out`.
pub(super) fn conv_geometry(
    l: &Lowerer<'_>,
    a: &ConvAttrs,
    xs: &[usize],
    ws: &[usize],
    out: &[usize],
) -> Result<ConvGeometry, CompileError> {
    let rank = xs.len();
    let pads = a.pads.as_ref().expect("resolved by inference");
    let strides = a.strides.as_ref().expect("resolved by inference");
    let dilations = a.dilations.as_ref().expect("resolved by inference");
    let n_sp = rank - 2;
    Ok(ConvGeometry {
        batch: u32_of(xs[0], l)?,
        in_h: u32_of(pick(rank, xs, 2, 1), l)?,
        in_w: u32_of(xs[rank - 1], l)?,
        in_c: u32_of(xs[1], l)?,
        out_h: u32_of(pick(rank, out, 2, 1), l)?,
        out_w: u32_of(out[rank - 1], l)?,
        out_c: u32_of(ws[0], l)?,
        kernel_h: u32_of(pick(rank, ws, 2, 1), l)?,
        kernel_w: u32_of(ws[rank - 1], l)?,
        stride_h: u32_of(pick(rank, strides, 0, 1), l)?,
        stride_w: u32_of(strides[n_sp - 1], l)?,
        dilation_h: u32_of(pick(rank, dilations, 0, 1), l)?,
        dilation_w: u32_of(dilations[n_sp - 1], l)?,
        pad_top: u32_of(pick(rank, pads, 0, 0), l)?,
        pad_left: u32_of(pads[n_sp - 1], l)?,
        pad_bottom: u32_of(pick(rank, pads, 2, 0), l)?,
        pad_right: u32_of(pads[2 * n_sp - 1], l)?,
        groups: u32_of(a.group, l)?,
    })
}

fn pool(l: &mut Lowerer<'_>, node: &Node, a: &PoolAttrs) -> Result<(), CompileError> {
    let x_id = l.required(node, 0)?;
    let rank = l.g.shape(x_id).len();
    let x = l.get(x_id, &channels_last(rank))?;
    let out_shape = l.g.shape(node.outputs[0]).to_vec();
    let y = l.fresh(&out_shape, channels_last(rank));
    let geom = pool_geometry(l, a, &x.shape, &out_shape)?;
    let op = OpKind::Pool2d(Pool2d {
        kind: a.kind,
        input: placeholder(x.loc, x.bytes()),
        output: placeholder(y.loc, y.bytes()),
        geom,
    });
    finish(l, node, op, y)
}

/// Runtime geometry of a 1-D or 2-D pooling over logical shapes `xs` and `out`.
pub(super) fn pool_geometry(
    l: &Lowerer<'_>,
    a: &PoolAttrs,
    xs: &[usize],
    out: &[usize],
) -> Result<PoolGeometry, CompileError> {
    let rank = xs.len();
    let pads = a.pads.as_ref().expect("resolved by inference");
    let strides = a.strides.as_ref().expect("resolved by inference");
    let dilations = a.dilations.as_ref().expect("resolved by inference");
    let k = &a.kernel_shape;
    let n_sp = rank - 2;
    Ok(PoolGeometry {
        batch: u32_of(xs[0], l)?,
        in_h: u32_of(pick(rank, xs, 2, 1), l)?,
        in_w: u32_of(xs[rank - 1], l)?,
        channels: u32_of(xs[1], l)?,
        out_h: u32_of(pick(rank, out, 2, 1), l)?,
        out_w: u32_of(out[rank - 1], l)?,
        kernel_h: u32_of(pick(rank, k, 0, 1), l)?,
        kernel_w: u32_of(k[n_sp - 1], l)?,
        stride_h: u32_of(pick(rank, strides, 0, 1), l)?,
        stride_w: u32_of(strides[n_sp - 1], l)?,
        dilation_h: u32_of(pick(rank, dilations, 0, 1), l)?,
        dilation_w: u32_of(dilations[n_sp - 1], l)?,
        pad_top: u32_of(pick(rank, pads, 0, 0), l)?,
        pad_left: u32_of(pads[n_sp - 1], l)?,
        pad_bottom: u32_of(pick(rank, pads, 2, 0), l)?,
        pad_right: u32_of(pads[2 * n_sp - 1], l)?,
    })
}

fn linear(l: &mut Lowerer<'_>, node: &Node, act: Activation) -> Result<(), CompileError> {
    let x_id = l.required(node, 0)?;
    let x = l.get(x_id, &identity(l.g.shape(x_id).len()))?;
    let w_id = l.required(node, 1)?;
    // W is [K, N]; the kernel reads one output's weights contiguously: store [N, K].
    let w = l.get(w_id, &[1, 0])?;
    let bias = match node.input(2) {
        Some(b) => Some(l.get(b, &[0])?),
        None => None,
    };
    let (k, n) = (w.shape[0], w.shape[1]);
    let out_shape = l.g.shape(node.outputs[0]).to_vec();
    let rows = x.shape.iter().product::<usize>() / k.max(1);
    let y = l.fresh(&out_shape, identity(out_shape.len()));
    let op = OpKind::Dense(Dense {
        input: placeholder(x.loc, x.bytes()),
        weights: placeholder(w.loc, w.bytes()),
        bias: bias.as_ref().map(|b| placeholder(b.loc, b.bytes())),
        output: placeholder(y.loc, y.bytes()),
        rows: u32_of(rows, l)?,
        in_features: u32_of(k, l)?,
        out_features: u32_of(n, l)?,
        act,
    });
    finish(l, node, op, y)
}

fn matmul(l: &mut Lowerer<'_>, node: &Node) -> Result<(), CompileError> {
    let (a_id, b_id) = (l.required(node, 0)?, l.required(node, 1)?);
    let a = l.get(a_id, &identity(l.g.shape(a_id).len()))?;
    let b = l.get(b_id, &identity(l.g.shape(b_id).len()))?;
    let out_shape = l.g.shape(node.outputs[0]).to_vec();
    let mut a_dims = a.shape.clone();
    let mut b_dims = b.shape.clone();
    if a_dims.len() == 1 {
        a_dims.insert(0, 1);
    }
    if b_dims.len() == 1 {
        b_dims.push(1);
    }
    let rank = a_dims.len().max(b_dims.len());
    let pad = |d: &mut Vec<usize>| {
        while d.len() < rank {
            d.insert(0, 1);
        }
    };
    pad(&mut a_dims);
    pad(&mut b_dims);
    // NumPy broadcasting (checked at import): a 1 takes the other operand's dimension, even 0.
    let mut o_dims: Vec<usize> = (0..rank - 2)
        .map(|i| if a_dims[i] == 1 { b_dims[i] } else { a_dims[i] })
        .collect();
    o_dims.extend([a_dims[rank - 2], b_dims[rank - 1]]);
    let y = l.fresh(&out_shape, identity(out_shape.len()));
    let op = OpKind::MatMul(MatMul {
        a: placeholder(a.loc, a.bytes()),
        b: placeholder(b.loc, b.bytes()),
        output: placeholder(y.loc, y.bytes()),
        a_shape: shape(&a_dims)?,
        b_shape: shape(&b_dims)?,
        out_shape: shape(&o_dims)?,
    });
    finish(l, node, op, y)
}

fn binary(
    l: &mut Lowerer<'_>,
    node: &Node,
    kind: BinaryKind,
    act: Activation,
) -> Result<(), CompileError> {
    let out_shape = l.g.shape(node.outputs[0]).to_vec();
    let rank = out_shape.len();
    let ids = [l.required(node, 0)?, l.required(node, 1)?];
    let chosen = l.common_layout(&ids, rank);
    let operands = l.broadcast_operands(&ids, rank, &chosen, false)?;
    let y = l.fresh(&out_shape, chosen.clone());
    let phys = |t: &Lowered| shape(&t.physical());
    let op = OpKind::Binary(Binary {
        kind,
        a: placeholder(operands[0].loc, operands[0].bytes()),
        b: placeholder(operands[1].loc, operands[1].bytes()),
        output: placeholder(y.loc, y.bytes()),
        a_shape: phys(&operands[0])?,
        b_shape: phys(&operands[1])?,
        out_shape: phys(&y)?,
        act,
    });
    finish(l, node, op, y)
}

fn concat(l: &mut Lowerer<'_>, node: &Node, axis: usize) -> Result<(), CompileError> {
    let out_shape = l.g.shape(node.outputs[0]).to_vec();
    let ids: Vec<usize> = node.inputs.iter().flatten().copied().collect();
    let chosen = l.common_layout(&ids, out_shape.len());
    let (dtype, quant) =
        super::runtime_type(&l.g.values[node.outputs[0]]).map_err(|e| l.fail(e))?;
    let y = l.fresh_typed(&out_shape, chosen.clone(), dtype, quant);
    let phys_out = y.physical();
    let p = chosen
        .iter()
        .position(|&a| a == axis)
        .expect("axis in permutation");
    let inner = phys_out[p + 1..].iter().product::<usize>() * dtype.size();
    let blocks = u32_of(phys_out[..p].iter().product(), l)?;
    let name = l.g.values[node.outputs[0]].name.clone();
    let mut offset = 0usize;
    let mut emitted = false;
    for id in ids {
        let x = match quant {
            Some(q) => {
                let x = super::int8::get_int8(l, id, &chosen)?;
                super::int8::with_params(l, x, q)?
            }
            None => l.get(id, &chosen)?,
        };
        let block = x.physical()[p] * inner;
        if block > 0 && blocks > 0 {
            let op = OpKind::Copy(Copy {
                input: placeholder(x.loc, x.bytes()),
                output: placeholder(y.loc, y.bytes()),
                blocks,
                block_bytes: u32_of(block, l)?,
                src_stride: u32_of(block, l)?,
                src_offset: 0,
                dst_stride: u32_of(phys_out[p] * inner, l)?,
                dst_offset: u32_of(offset, l)?,
            });
            l.emit(op, &name, &y, Some(node.outputs[0]));
            emitted = true;
        }
        offset += block;
    }
    if !emitted && y.bytes() > 0 {
        return Err(l.fail("concatenation of empty tensors into a non-empty one"));
    }
    l.define(node.outputs[0], y);
    Ok(())
}
