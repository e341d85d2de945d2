//! Load-time verification: every buffer inside its space, sized for its shape, aligned; every
//! shape consistent with its operator's parameters; no forbidden overlap. After this, the
//! interpreter's only possible failures are the caller's (arena size, I/O indices).

use crate::format::{
    Binary, Buf, Conv2d, ConvGeometry, Copy, Dense, GlobalPool, Header, MAX_RANK, MatMul, OpKind,
    Pad, Pool2d, PoolGeometry, Shape, Softmax, Space, TensorDesc, Transpose, Unary,
};
use crate::{DType, LoadError, OpFault};

type Check = Result<(), OpFault>;

/// Sizes of the two spaces buffers may live in.
struct Spaces {
    arena: u64,
    weights: u64,
}

impl Spaces {
    /// A buffer holding exactly `elements` of `dtype`, inside its space and aligned.
    fn buf(&self, buf: Buf, dtype: DType, elements: Option<u64>) -> Check {
        let size = dtype.size() as u64;
        let bytes = elements
            .and_then(|e| e.checked_mul(size))
            .ok_or(OpFault::BadShape)?;
        if bytes != u64::from(buf.bytes) {
            return Err(OpFault::SizeMismatch);
        }
        let limit = match buf.space {
            Space::Arena => self.arena,
            Space::Weights => self.weights,
        };
        if buf.end() > limit {
            return Err(OpFault::OutOfBounds);
        }
        if u64::from(buf.offset) % size != 0 {
            return Err(OpFault::Misaligned);
        }
        Ok(())
    }

    /// Like [`Spaces::buf`], for a buffer the operator writes.
    fn out(&self, buf: Buf, dtype: DType, elements: Option<u64>) -> Check {
        if buf.space != Space::Arena {
            return Err(OpFault::ReadOnly);
        }
        self.buf(buf, dtype, elements)
    }
}

fn disjoint(input: Buf, output: Buf) -> Check {
    if input.overlaps(&output) {
        Err(OpFault::Overlap)
    } else {
        Ok(())
    }
}

/// Disjoint, or exactly the output buffer when the operator may run in place.
fn disjoint_or_same(input: Buf, output: Buf, in_place_ok: bool) -> Check {
    if in_place_ok && input == output {
        Ok(())
    } else {
        disjoint(input, output)
    }
}

fn product(factors: &[u32]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(u64::from(f)))
}

fn elements(shape: &Shape) -> Option<u64> {
    shape.elements().map(u64::from)
}

fn ensure(condition: bool, fault: OpFault) -> Check {
    if condition { Ok(()) } else { Err(fault) }
}

/// Output size of a window sliding over `size + pads` (floor), or `None` if it does not fit.
fn window_out(size: u32, pad: (u32, u32), kernel: u32, stride: u32, dilation: u32) -> Option<u64> {
    let padded = u64::from(size) + u64::from(pad.0) + u64::from(pad.1);
    let extent = u64::from(dilation) * (u64::from(kernel).checked_sub(1)?) + 1;
    Some(padded.checked_sub(extent)? / u64::from(stride) + 1)
}

/// Verifies the header's tables and operators against the arena and weight sizes.
pub(crate) fn verify(header: &Header<'_>, weights_len: usize) -> Result<(), LoadError> {
    let spaces = Spaces {
        arena: u64::from(header.arena_bytes),
        weights: weights_len as u64,
    };
    let tensor_count = header.tensors.len();
    let tensor_fault = |index: u32, fault| LoadError::InvalidTensor {
        index: u16::try_from(index).unwrap_or(u16::MAX),
        fault,
    };
    for (index, tensor) in (0u32..).zip(header.tensors.iter()) {
        let tensor: TensorDesc<'_> =
            tensor.map_err(|_| tensor_fault(index, OpFault::Undecodable))?;
        spaces
            .buf(tensor.buf, tensor.dtype, elements(&tensor.shape))
            .map_err(|f| tensor_fault(index, f))?;
    }
    for (index, io) in (0u32..).zip(header.inputs.iter()) {
        let io = io.map_err(|_| tensor_fault(index, OpFault::Undecodable))?;
        let tensor = header
            .tensors
            .get(io.tensor)
            .ok_or_else(|| tensor_fault(io.tensor, OpFault::OutOfBounds))?;
        if tensor.buf.space != Space::Arena {
            return Err(tensor_fault(io.tensor, OpFault::ReadOnly));
        }
    }
    for (index, io) in (0u32..).zip(header.outputs.iter()) {
        let io = io.map_err(|_| tensor_fault(index, OpFault::Undecodable))?;
        if io.tensor >= tensor_count {
            return Err(tensor_fault(io.tensor, OpFault::OutOfBounds));
        }
    }
    if header.ops.len() > u32::from(u16::MAX) {
        return Err(LoadError::BadHeader);
    }
    for (index, op) in (0u16..).zip(header.ops.iter()) {
        let fault = |fault| LoadError::InvalidOp { index, fault };
        let op = op.map_err(|_| fault(OpFault::Undecodable))?;
        if op.tensor >= tensor_count {
            return Err(fault(OpFault::OutOfBounds));
        }
        verify_op(&op.kind, &spaces).map_err(fault)?;
    }
    Ok(())
}

fn verify_op(kind: &OpKind, s: &Spaces) -> Check {
    match kind {
        OpKind::Conv2d(op) => conv2d(op, s),
        OpKind::Dense(op) => dense(op, s),
        OpKind::MatMul(op) => matmul(op, s),
        OpKind::Binary(op) => binary(op, s),
        OpKind::Unary(op) => unary(op, s),
        OpKind::Softmax(op) => softmax(op, s),
        OpKind::Pool2d(op) => pool2d(op, s),
        OpKind::GlobalPool(op) => global_pool(op, s),
        OpKind::Transpose(op) => transpose(op, s),
        OpKind::Copy(op) => copy(op, s),
        OpKind::Pad(op) => pad(op, s),
    }
}

fn conv_geometry(g: &ConvGeometry) -> Check {
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

fn conv2d(op: &Conv2d, s: &Spaces) -> Check {
    let g = &op.geom;
    conv_geometry(g)?;
    s.buf(
        op.input,
        DType::F32,
        product(&[g.batch, g.in_h, g.in_w, g.in_c]),
    )?;
    s.buf(
        op.weights,
        DType::F32,
        product(&[g.out_c, g.kernel_h, g.kernel_w, g.in_c / g.groups]),
    )?;
    s.out(
        op.output,
        DType::F32,
        product(&[g.batch, g.out_h, g.out_w, g.out_c]),
    )?;
    disjoint(op.input, op.output)?;
    disjoint(op.weights, op.output)?;
    if let Some(bias) = op.bias {
        s.buf(bias, DType::F32, Some(u64::from(g.out_c)))?;
        disjoint(bias, op.output)?;
    }
    Ok(())
}

fn dense(op: &Dense, s: &Spaces) -> Check {
    s.buf(op.input, DType::F32, product(&[op.rows, op.in_features]))?;
    s.buf(
        op.weights,
        DType::F32,
        product(&[op.out_features, op.in_features]),
    )?;
    s.out(op.output, DType::F32, product(&[op.rows, op.out_features]))?;
    disjoint(op.input, op.output)?;
    disjoint(op.weights, op.output)?;
    if let Some(bias) = op.bias {
        s.buf(bias, DType::F32, Some(u64::from(op.out_features)))?;
        disjoint(bias, op.output)?;
    }
    Ok(())
}

/// Equal ranks and every operand dimension equal to the output's or 1, over `dims` axes.
fn broadcasts(operand: &Shape, out: &Shape, axes: core::ops::Range<usize>) -> bool {
    let (p, o) = (operand.padded(), out.padded());
    operand.rank() == out.rank() && axes.clone().all(|d| p[d] == o[d] || p[d] == 1)
}

fn matmul(op: &MatMul, s: &Spaces) -> Check {
    let rank = op.out_shape.rank();
    ensure(rank >= 2, OpFault::BadShape)?;
    let batch = 0..MAX_RANK - 2;
    ensure(
        broadcasts(&op.a_shape, &op.out_shape, batch.clone()),
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

fn binary(op: &Binary, s: &Spaces) -> Check {
    let all = 0..MAX_RANK;
    ensure(
        broadcasts(&op.a_shape, &op.out_shape, all.clone()),
        OpFault::BadShape,
    )?;
    ensure(
        broadcasts(&op.b_shape, &op.out_shape, all),
        OpFault::BadShape,
    )?;
    s.buf(op.a, DType::F32, elements(&op.a_shape))?;
    s.buf(op.b, DType::F32, elements(&op.b_shape))?;
    s.out(op.output, DType::F32, elements(&op.out_shape))?;
    disjoint_or_same(op.a, op.output, op.a_shape == op.out_shape)?;
    disjoint_or_same(op.b, op.output, op.b_shape == op.out_shape)
}

fn unary(op: &Unary, s: &Spaces) -> Check {
    s.buf(op.input, DType::F32, Some(u64::from(op.len)))?;
    s.out(op.output, DType::F32, Some(u64::from(op.len)))?;
    disjoint_or_same(op.input, op.output, true)
}

fn softmax(op: &Softmax, s: &Spaces) -> Check {
    let len = product(&[op.outer, op.axis, op.inner]);
    s.buf(op.input, DType::F32, len)?;
    s.out(op.output, DType::F32, len)?;
    disjoint(op.input, op.output)
}

fn pool_geometry(g: &PoolGeometry) -> Check {
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

fn pool2d(op: &Pool2d, s: &Spaces) -> Check {
    let g = &op.geom;
    pool_geometry(g)?;
    s.buf(
        op.input,
        DType::F32,
        product(&[g.batch, g.in_h, g.in_w, g.channels]),
    )?;
    s.out(
        op.output,
        DType::F32,
        product(&[g.batch, g.out_h, g.out_w, g.channels]),
    )?;
    disjoint(op.input, op.output)
}

fn global_pool(op: &GlobalPool, s: &Spaces) -> Check {
    s.buf(
        op.input,
        DType::F32,
        product(&[op.batch, op.spatial, op.channels]),
    )?;
    s.out(op.output, DType::F32, product(&[op.batch, op.channels]))?;
    disjoint(op.input, op.output)
}

fn transpose(op: &Transpose, s: &Spaces) -> Check {
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

fn copy(op: &Copy, s: &Spaces) -> Check {
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

fn pad(op: &Pad, s: &Spaces) -> Check {
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
