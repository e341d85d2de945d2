//! Verification of the float and data-movement operators.

use super::{
    Check, Spaces, conv_buffers, dense_buffers, disjoint, disjoint_or_same, elements, ensure,
    layer, product, window_out,
};
use crate::format::{
    Binary, Buf, Conv2d, ConvGeometry, Copy, Dense, GlobalPool, MAX_RANK, MatMul, Pad, Pool2d,
    PoolGeometry, Shape, Softmax, Space, Transpose, Unary, WeightLayout,
};
use crate::{DType, OpFault};

pub(super) fn conv_geometry(g: &ConvGeometry) -> Check {
    let positive = [
        g.kernel_h,
        g.kernel_w,
        g.stride_h,
        g.stride_w,
        g.dilation_h,
        g.dilation_w,
        g.groups,
    ];
    ensure(positive.iter().all(|&v| v > 0), OpFault::BadParameter)?;
    ensure(
        g.in_c.is_multiple_of(g.groups) && g.out_c.is_multiple_of(g.groups),
        OpFault::BadParameter,
    )?;
    let out_h = window_out(
        g.in_h,
        (g.pad_top, g.pad_bottom),
        g.kernel_h,
        g.stride_h,
        g.dilation_h,
    );
    let out_w = window_out(
        g.in_w,
        (g.pad_left, g.pad_right),
        g.kernel_w,
        g.stride_w,
        g.dilation_w,
    );
    ensure(
        out_h == Some(u64::from(g.out_h)) && out_w == Some(u64::from(g.out_w)),
        OpFault::BadShape,
    )
}

pub(super) fn conv2d(op: &Conv2d, s: &Spaces) -> Check {
    let g = &op.geom;
    conv_geometry(g)?;
    let mut bufs = conv_buffers(g, op.input, op.weights, op.bias, op.output);
    if s.layout.packs(op.weights) {
        let per_channel = product(&[g.kernel_h, g.kernel_w, g.in_c / g.groups.max(1)]);
        bufs.weights.1 = per_channel.and_then(|n| WeightLayout::blocked_len(g.out_c, n));
    }
    layer(s, &bufs, DType::F32, DType::F32)
}

pub(super) fn dense(op: &Dense, s: &Spaces) -> Check {
    let bufs = [op.input, op.weights, op.output];
    let mut bufs = dense_buffers(op.rows, op.in_features, op.out_features, bufs, op.bias);
    if s.layout.packs(op.weights) {
        bufs.weights.1 = WeightLayout::blocked_len(op.out_features, u64::from(op.in_features));
    }
    layer(s, &bufs, DType::F32, DType::F32)
}

/// Equal ranks and every operand dimension equal to the output's or 1, over the first `axes`
/// axes (of the shapes padded to `MAX_RANK`).
pub(super) fn broadcasts(operand: &Shape, out: &Shape, axes: usize) -> bool {
    let (p, o) = (operand.padded(), out.padded());
    operand.rank() == out.rank() && p.iter().zip(&o).take(axes).all(|(&p, &o)| p == o || p == 1)
}

pub(super) fn matmul(op: &MatMul, s: &Spaces) -> Check {
    let rank = op.out_shape.rank();
    ensure(rank >= 2, OpFault::BadShape)?;
    let batch = MAX_RANK - 2;
    ensure(
        broadcasts(&op.a_shape, &op.out_shape, batch),
        OpFault::BadShape,
    )?;
    ensure(
        broadcasts(&op.b_shape, &op.out_shape, batch),
        OpFault::BadShape,
    )?;
    let (a, b, o) = (
        op.a_shape.padded(),
        op.b_shape.padded(),
        op.out_shape.padded(),
    );
    let (m, k, n) = (MAX_RANK - 2, MAX_RANK - 1, MAX_RANK - 1);
    ensure(
        a[k] == b[m] && o[m] == a[m] && o[n] == b[n],
        OpFault::BadShape,
    )?;
    s.buf(op.a, DType::F32, elements(&op.a_shape))?;
    s.buf(op.b, DType::F32, elements(&op.b_shape))?;
    s.out(op.output, DType::F32, elements(&op.out_shape))?;
    disjoint(op.a, op.output)?;
    disjoint(op.b, op.output)
}

/// The operands and output of a broadcasting element-wise operator, all of `dtype`: each
/// operand broadcasts to the output and may share the output's buffer only when equal in shape.
pub(super) fn element_wise(
    s: &Spaces,
    dtype: DType,
    [a, b, output]: [Buf; 3],
    [a_shape, b_shape, out_shape]: [&Shape; 3],
) -> Check {
    let all = MAX_RANK;
    ensure(broadcasts(a_shape, out_shape, all), OpFault::BadShape)?;
    ensure(broadcasts(b_shape, out_shape, all), OpFault::BadShape)?;
    s.buf(a, dtype, elements(a_shape))?;
    s.buf(b, dtype, elements(b_shape))?;
    s.out(output, dtype, elements(out_shape))?;
    disjoint_or_same(a, output, a_shape == out_shape)?;
    disjoint_or_same(b, output, b_shape == out_shape)
}

pub(super) fn binary(op: &Binary, s: &Spaces) -> Check {
    element_wise(
        s,
        DType::F32,
        [op.a, op.b, op.output],
        [&op.a_shape, &op.b_shape, &op.out_shape],
    )
}

pub(super) fn unary(op: &Unary, s: &Spaces) -> Check {
    s.buf(op.input, DType::F32, Some(u64::from(op.len)))?;
    s.out(op.output, DType::F32, Some(u64::from(op.len)))?;
    disjoint_or_same(op.input, op.output, true)
}

pub(super) fn softmax(op: &Softmax, s: &Spaces) -> Check {
    let len = product(&[op.outer, op.axis, op.inner]);
    s.buf(op.input, DType::F32, len)?;
    s.out(op.output, DType::F32, len)?;
    disjoint(op.input, op.output)
}

pub(super) fn pool_geometry(g: &PoolGeometry) -> Check {
    let positive = [
        g.kernel_h,
        g.kernel_w,
        g.stride_h,
        g.stride_w,
        g.dilation_h,
        g.dilation_w,
    ];
    ensure(positive.iter().all(|&v| v > 0), OpFault::BadParameter)?;
    // Every window must start inside the padded input (ceil mode may cut its end).
    let starts_inside = |out: u32, stride: u32, size: u32, pads: (u32, u32)| {
        out == 0
            || u64::from(out - 1) * u64::from(stride)
                < u64::from(size) + u64::from(pads.0) + u64::from(pads.1)
    };
    ensure(
        starts_inside(g.out_h, g.stride_h, g.in_h, (g.pad_top, g.pad_bottom))
            && starts_inside(g.out_w, g.stride_w, g.in_w, (g.pad_left, g.pad_right)),
        OpFault::BadShape,
    )
}

/// The geometry and buffers of windowed pooling over `dtype` elements.
pub(super) fn pool_buffers(
    s: &Spaces,
    dtype: DType,
    g: &PoolGeometry,
    [input, output]: [Buf; 2],
) -> Check {
    pool_geometry(g)?;
    s.buf(
        input,
        dtype,
        product(&[g.batch, g.in_h, g.in_w, g.channels]),
    )?;
    s.out(
        output,
        dtype,
        product(&[g.batch, g.out_h, g.out_w, g.channels]),
    )?;
    disjoint(input, output)
}

pub(super) fn pool2d(op: &Pool2d, s: &Spaces) -> Check {
    pool_buffers(s, DType::F32, &op.geom, [op.input, op.output])
}

/// Global pooling over `dtype` elements.
pub(super) fn global_pool(op: &GlobalPool, dtype: DType, s: &Spaces) -> Check {
    s.buf(
        op.input,
        dtype,
        product(&[op.batch, op.spatial, op.channels]),
    )?;
    s.out(op.output, dtype, product(&[op.batch, op.channels]))?;
    disjoint(op.input, op.output)
}

pub(super) fn transpose(op: &Transpose, s: &Spaces) -> Check {
    let rank = op.in_shape.rank();
    let mut seen = [false; MAX_RANK];
    for &axis in &op.perm[..rank] {
        let axis = usize::from(axis);
        ensure(axis < rank && !seen[axis], OpFault::BadParameter)?;
        seen[axis] = true;
    }
    s.buf(op.input, op.dtype, elements(&op.in_shape))?;
    s.out(op.output, op.dtype, elements(&op.in_shape))?;
    disjoint(op.input, op.output)
}

pub(super) fn copy(op: &Copy, s: &Spaces) -> Check {
    use crate::kernels::copy::extent;
    if op.output.space != Space::Arena {
        return Err(OpFault::ReadOnly);
    }
    s.buf(op.input, DType::I8, Some(u64::from(op.input.bytes)))?;
    s.buf(op.output, DType::I8, Some(u64::from(op.output.bytes)))?;
    let src_end = extent(op.blocks, op.block_bytes, op.src_offset, op.src_stride);
    let dst_end = extent(op.blocks, op.block_bytes, op.dst_offset, op.dst_stride);
    ensure(
        src_end.is_some_and(|e| e <= u64::from(op.input.bytes)),
        OpFault::OutOfBounds,
    )?;
    ensure(
        dst_end.is_some_and(|e| e <= u64::from(op.output.bytes)),
        OpFault::OutOfBounds,
    )?;
    disjoint(op.input, op.output)
}

pub(super) fn pad(op: &Pad, s: &Spaces) -> Check {
    let rank = op.in_shape.rank();
    ensure(op.out_shape.rank() == rank, OpFault::BadShape)?;
    for d in 0..rank {
        let end = u64::from(op.begin[d]) + u64::from(op.in_shape.dims()[d]);
        ensure(end <= u64::from(op.out_shape.dims()[d]), OpFault::BadShape)?;
    }
    s.buf(op.input, op.dtype, elements(&op.in_shape))?;
    s.out(op.output, op.dtype, elements(&op.out_shape))?;
    disjoint(op.input, op.output)
}
