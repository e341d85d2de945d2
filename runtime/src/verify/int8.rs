//! Verification of the integer operators: buffer sizes by element type, requantization
//! tables of one or one-per-channel entries, zero points within int8.

use super::float::{conv_geometry, element_wise, pool_buffers};
use super::{
    Check, Spaces, conv_buffers, dense_buffers, disjoint, disjoint_or_same, ensure, layer, product,
};
use crate::format::{
    BinaryI8, Conv2dI8, DenseI8, Dequantize, LookupI8, Pool2dI8, Quantize, Requant, RequantizeI8,
    SoftmaxI8,
};
use crate::{DType, OpFault};

pub(super) fn zero_point(zp: i32) -> Check {
    ensure((-128..=127).contains(&zp), OpFault::BadParameter)
}

pub(super) fn activation(lo: i8, hi: i8) -> Check {
    ensure(lo <= hi, OpFault::BadParameter)
}

/// Requantization tables of one or one-per-channel entries, apart from the output.
pub(super) fn requantization(
    r: &Requant,
    channels: u32,
    output: crate::format::Buf,
    s: &Spaces,
) -> Check {
    let n = u64::from(r.multipliers.bytes / 4);
    ensure(n == 1 || n == u64::from(channels), OpFault::BadShape)?;
    s.buf(r.multipliers, DType::I32, Some(n))?;
    s.buf(r.shifts, DType::I8, Some(n))?;
    disjoint(r.multipliers, output)?;
    disjoint(r.shifts, output)
}

pub(super) fn conv2d(op: &Conv2dI8, s: &Spaces) -> Check {
    conv_geometry(&op.geom)?;
    let mut bufs = conv_buffers(&op.geom, op.input, op.weights, op.bias, op.output);
    if s.layout.widens(&op.geom, op.weights) {
        // Widened weights are 32-bit words: four bytes each, word-aligned.
        let words = crate::kernels::conv::widened_len(&op.geom).ok();
        let words = words.and_then(|n| u64::try_from(n).ok());
        s.buf(op.weights, DType::I32, words)?;
        bufs.weights.1 = words.and_then(|n| n.checked_mul(4));
    }
    layer(s, &bufs, DType::I8, DType::I32)?;
    requantization(&op.requant, op.geom.out_c, op.output, s)?;
    zero_point(op.input_zp)?;
    zero_point(op.output_zp)?;
    activation(op.act_min, op.act_max)
}

pub(super) fn dense(op: &DenseI8, s: &Spaces) -> Check {
    let bufs = [op.input, op.weights, op.output];
    layer(
        s,
        &dense_buffers(op.rows, op.in_features, op.out_features, bufs, op.bias),
        DType::I8,
        DType::I32,
    )?;
    requantization(&op.requant, op.out_features, op.output, s)?;
    zero_point(op.input_zp)?;
    zero_point(op.output_zp)?;
    activation(op.act_min, op.act_max)
}

pub(super) fn binary(op: &BinaryI8, s: &Spaces) -> Check {
    element_wise(
        s,
        DType::I8,
        [op.a, op.b, op.output],
        [&op.a_shape, &op.b_shape, &op.out_shape],
    )?;
    op.zero_points.iter().try_for_each(|&zp| zero_point(zp))?;
    ensure(op.left_shift <= 20, OpFault::BadParameter)?;
    activation(op.act_min, op.act_max)
}

pub(super) fn pool2d(op: &Pool2dI8, s: &Spaces) -> Check {
    pool_buffers(s, DType::I8, &op.geom, [op.input, op.output])?;
    zero_point(op.zero_point)?;
    activation(op.act_min, op.act_max)
}

pub(super) fn softmax(op: &SoftmaxI8, s: &Spaces) -> Check {
    let len = product(&[op.outer, op.axis, op.inner]);
    s.buf(op.input, DType::I8, len)?;
    s.out(op.output, DType::I8, len)?;
    ensure(
        op.axis <= crate::kernels::softmax::MAX_AXIS_I8,
        OpFault::BadShape,
    )?;
    let entries = u64::from(op.table.bytes / 2);
    ensure(entries <= 255, OpFault::BadParameter)?;
    s.buf(op.table, DType::I16, Some(entries))?;
    disjoint(op.input, op.output)?;
    disjoint(op.table, op.output)
}

pub(super) fn lookup(op: &LookupI8, s: &Spaces) -> Check {
    s.buf(op.input, DType::I8, Some(u64::from(op.len)))?;
    s.out(op.output, DType::I8, Some(u64::from(op.len)))?;
    s.buf(op.table, DType::I8, Some(256))?;
    disjoint_or_same(op.input, op.output, true)?;
    disjoint(op.table, op.output)
}

pub(super) fn requantize(op: &RequantizeI8, s: &Spaces) -> Check {
    s.buf(op.input, DType::I8, Some(u64::from(op.len)))?;
    s.out(op.output, DType::I8, Some(u64::from(op.len)))?;
    disjoint_or_same(op.input, op.output, true)?;
    zero_point(op.input_zp)?;
    zero_point(op.output_zp)
}

pub(super) fn quantize(op: &Quantize, s: &Spaces) -> Check {
    s.buf(op.input, DType::F32, Some(u64::from(op.len)))?;
    s.out(op.output, DType::I8, Some(u64::from(op.len)))?;
    disjoint(op.input, op.output)?;
    zero_point(op.zero_point)
}

pub(super) fn dequantize(op: &Dequantize, s: &Spaces) -> Check {
    s.buf(op.input, DType::I8, Some(u64::from(op.len)))?;
    s.out(op.output, DType::F32, Some(u64::from(op.len)))?;
    disjoint(op.input, op.output)?;
    zero_point(op.zero_point)
}
