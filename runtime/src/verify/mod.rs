//! Load-time verification: every buffer inside its space, sized for its shape, aligned; every
//! shape consistent with its operator's parameters; no forbidden overlap. After this, the
//! interpreter's only possible failures are the caller's (arena size, I/O indices).

mod float;
mod int8;
#[cfg(feature = "sparse")]
mod sparse;

use crate::format::{Buf, Header, OpKind, Shape, Space, TensorDesc, WeightLayout};
use crate::{DType, LoadError, OpFault};

type Check = Result<(), OpFault>;

/// Sizes of the two spaces buffers may live in, and the weight blob (for the checks that
/// read weights: sparse encodings).
struct Spaces<'w> {
    arena: u64,
    weights: u64,
    /// How float32 convolution and fully connected weights and int8 convolution weights are
    /// laid out.
    layout: WeightLayout,
    blob: &'w [u8],
}

impl Spaces<'_> {
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

/// The buffers of a convolution or fully connected layer: `input`, `weights` and `output` of
/// `data` elements (counts given), an optional `bias` of `bias_type` per output channel, none
/// overlapping the output.
struct LayerBuffers {
    input: (Buf, Option<u64>),
    weights: (Buf, Option<u64>),
    output: (Buf, Option<u64>),
    bias: Option<Buf>,
    channels: u32,
}

fn layer(s: &Spaces, l: &LayerBuffers, data: DType, bias_type: DType) -> Check {
    s.buf(l.input.0, data, l.input.1)?;
    s.buf(l.weights.0, data, l.weights.1)?;
    s.out(l.output.0, data, l.output.1)?;
    disjoint(l.input.0, l.output.0)?;
    disjoint(l.weights.0, l.output.0)?;
    if let Some(bias) = l.bias {
        s.buf(bias, bias_type, Some(u64::from(l.channels)))?;
        disjoint(bias, l.output.0)?;
    }
    Ok(())
}

/// [`LayerBuffers`] of a convolution.
fn conv_buffers(
    g: &crate::format::ConvGeometry,
    input: Buf,
    weights: Buf,
    bias: Option<Buf>,
    output: Buf,
) -> LayerBuffers {
    LayerBuffers {
        input: (input, product(&[g.batch, g.in_h, g.in_w, g.in_c])),
        weights: (
            weights,
            product(&[g.out_c, g.kernel_h, g.kernel_w, g.in_c / g.groups.max(1)]),
        ),
        output: (output, product(&[g.batch, g.out_h, g.out_w, g.out_c])),
        bias,
        channels: g.out_c,
    }
}

/// [`LayerBuffers`] of a fully connected layer.
fn dense_buffers(
    rows: u32,
    in_features: u32,
    out_features: u32,
    bufs: [Buf; 3],
    bias: Option<Buf>,
) -> LayerBuffers {
    let [input, weights, output] = bufs;
    LayerBuffers {
        input: (input, product(&[rows, in_features])),
        weights: (weights, product(&[out_features, in_features])),
        output: (output, product(&[rows, out_features])),
        bias,
        channels: out_features,
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
/// Computed in 32 bits (a dimension past that is refused), so small cores need no 64-bit division.
fn window_out(size: u32, pad: (u32, u32), kernel: u32, stride: u32, dilation: u32) -> Option<u64> {
    let padded = size.checked_add(pad.0)?.checked_add(pad.1)?;
    let extent = dilation
        .checked_mul(kernel.checked_sub(1)?)?
        .checked_add(1)?;
    Some(u64::from(padded.checked_sub(extent)?.checked_div(stride)?) + 1)
}

/// Verifies the header's tables and operators against the arena and weight sizes.
pub(crate) fn verify(
    header: &Header<'_>,
    layout: WeightLayout,
    weights: &[u8],
) -> Result<(), LoadError> {
    let spaces = Spaces {
        arena: u64::from(header.arena_bytes),
        weights: weights.len() as u64,
        layout,
        blob: weights,
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
    let mut ops = header.ops.iter();
    let mut index = 0u16;
    loop {
        let fault = |fault| LoadError::InvalidOp { index, fault };
        let undecoded = ops.undecoded();
        let Some(op) = ops.next() else { break };
        let op = op.map_err(|_| fault(undecodable(undecoded)))?;
        if op.tensor >= tensor_count {
            return Err(fault(OpFault::OutOfBounds));
        }
        verify_op(&op.kind, &spaces).map_err(fault)?;
        index = index.saturating_add(1);
    }
    Ok(())
}

/// Whether the embedded validation vectors fit the model's inputs, outputs and operators,
/// inside the weights. Checked by `validate`, not by `load`: firmware that never validates
/// neither pays for the check nor is refused a model whose vectors are damaged.
pub(crate) fn vectors_fit(
    header: &Header<'_>,
    v: &crate::format::Validation,
    weights: &[u8],
) -> bool {
    let spaces = Spaces {
        arena: u64::from(header.arena_bytes),
        weights: weights.len() as u64,
        layout: WeightLayout::Reference,
        blob: weights,
    };
    validation(header, v, &spaces).is_ok()
}

/// Why an operator did not decode: left out of this build, or malformed.
fn undecodable(op_bytes: &[u8]) -> OpFault {
    match crate::format::encoded_variant(op_bytes) {
        Some(v)
            if crate::format::features_for_variant(v).is_some()
                && !crate::format::variant_compiled_in(v) =>
        {
            OpFault::NotCompiledIn
        }
        _ => OpFault::Undecodable,
    }
}

/// Bytes of every model input (or output) of one vector.
fn io_bytes(
    header: &Header<'_>,
    ios: &crate::format::Section<'_, crate::format::IoDesc>,
) -> Option<u64> {
    ios.iter().try_fold(0u64, |sum, io| {
        let t = header.tensors.get(io.ok()?.tensor)?;
        sum.checked_add(u64::from(t.buf.bytes))
    })
}

/// The validation vectors fit the model's inputs, outputs and operators, inside the weights.
fn validation(header: &Header<'_>, v: &crate::format::Validation, s: &Spaces) -> Check {
    let vectors = u64::from(v.vectors);
    ensure(vectors > 0, OpFault::BadParameter)?;
    let per_input = io_bytes(header, &header.inputs).ok_or(OpFault::BadShape)?;
    let per_output = io_bytes(header, &header.outputs).ok_or(OpFault::BadShape)?;
    for (buf, bytes) in [
        (v.inputs, per_input.checked_mul(vectors)),
        (v.outputs, per_output.checked_mul(vectors)),
        (v.layer_checksums, Some(u64::from(header.ops.len()) * 4)),
    ] {
        ensure(buf.space == Space::Weights, OpFault::BadParameter)?;
        s.buf(buf, DType::I8, bytes)?;
    }
    Ok(())
}

fn verify_op(kind: &OpKind, s: &Spaces) -> Check {
    match kind {
        #[cfg(all(feature = "float", feature = "conv"))]
        OpKind::Conv2d(op) => float::conv2d(op, s),
        #[cfg(all(feature = "float", feature = "dense"))]
        OpKind::Dense(op) => float::dense(op, s),
        #[cfg(all(feature = "float", feature = "matmul"))]
        OpKind::MatMul(op) => float::matmul(op, s),
        #[cfg(all(feature = "float", feature = "binary"))]
        OpKind::Binary(op) => float::binary(op, s),
        #[cfg(all(feature = "float", feature = "unary"))]
        OpKind::Unary(op) => float::unary(op, s),
        #[cfg(all(feature = "float", feature = "softmax"))]
        OpKind::Softmax(op) => float::softmax(op, s),
        #[cfg(all(feature = "float", feature = "pool"))]
        OpKind::Pool2d(op) => float::pool2d(op, s),
        #[cfg(all(feature = "float", feature = "pool"))]
        OpKind::GlobalPool(op) => float::global_pool(op, DType::F32, s),
        #[cfg(feature = "layout")]
        OpKind::Transpose(op) => float::transpose(op, s),
        #[cfg(feature = "layout")]
        OpKind::Copy(op) => float::copy(op, s),
        #[cfg(feature = "layout")]
        OpKind::Pad(op) => float::pad(op, s),
        #[cfg(all(feature = "int8", feature = "conv"))]
        OpKind::Conv2dI8(op) => int8::conv2d(op, s),
        #[cfg(all(feature = "int8", feature = "dense"))]
        OpKind::DenseI8(op) => int8::dense(op, s),
        #[cfg(all(feature = "int8", feature = "binary"))]
        OpKind::BinaryI8(op) => int8::binary(op, s),
        #[cfg(all(feature = "int8", feature = "pool"))]
        OpKind::Pool2dI8(op) => int8::pool2d(op, s),
        #[cfg(all(feature = "int8", feature = "pool"))]
        OpKind::GlobalPoolI8(op) => float::global_pool(op, DType::I8, s),
        #[cfg(all(feature = "int8", feature = "softmax"))]
        OpKind::SoftmaxI8(op) => int8::softmax(op, s),
        #[cfg(all(feature = "int8", feature = "lookup"))]
        OpKind::LookupI8(op) => int8::lookup(op, s),
        #[cfg(all(feature = "int8", feature = "quantize"))]
        OpKind::RequantizeI8(op) => int8::requantize(op, s),
        #[cfg(feature = "quantize")]
        OpKind::Quantize(op) => int8::quantize(op, s),
        #[cfg(feature = "quantize")]
        OpKind::Dequantize(op) => int8::dequantize(op, s),
        #[cfg(all(feature = "int8", feature = "conv", feature = "sparse"))]
        OpKind::Conv2dI8Sparse(op) => sparse::conv2d(op, s),
        #[cfg(all(feature = "int8", feature = "dense", feature = "sparse"))]
        OpKind::DenseI8Sparse(op) => sparse::dense(op, s),
        #[allow(unreachable_patterns)] // reached only by builds that leave operators out
        _ => Err(OpFault::NotCompiledIn),
    }
}
