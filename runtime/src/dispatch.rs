//! Operator dispatch: resolves an operator's buffers in the arena and the weight blob and
//! calls its kernel.

use crate::arena::{self, Inputs, Unresolved};
use crate::format::{OpKind, PoolKind, Requant, WeightLayout};
use crate::kernels::{self, conv::QuantOut, dense::DenseShape};

impl From<kernels::LengthMismatch> for Unresolved {
    fn from(_: kernels::LengthMismatch) -> Self {
        Unresolved
    }
}

/// Executes one operator; returns its output buffer. `layout` is the model's weight layout.
pub(crate) fn run(
    kind: &OpKind,
    arena: &mut [u8],
    weights: &[u8],
    layout: WeightLayout,
) -> Result<crate::format::Buf, Unresolved> {
    let output = kind.output();
    let (inputs, out) = arena::split(arena, weights, output)?;
    // Float32 convolution and fully connected weights in the blob may be packed, int8
    // convolution weights widened (builds without those operators do not read `layout`).
    let _ = layout;
    #[cfg(all(feature = "float", any(feature = "conv", feature = "dense")))]
    let blocked = |w| layout.packs(w);
    match kind {
        #[cfg(all(feature = "float", feature = "conv"))]
        OpKind::Conv2d(op) => {
            let bias = op.bias.map(|b| inputs.typed::<f32>(b)).transpose()?;
            let run = if blocked(op.weights) {
                kernels::conv::conv2d_f32_blocked
            } else {
                kernels::conv::conv2d_f32
            };
            run(
                &op.geom,
                op.act,
                inputs.typed(op.input)?,
                inputs.typed(op.weights)?,
                bias,
                cast_mut(out)?,
            )?
        }
        #[cfg(all(feature = "float", feature = "dense"))]
        OpKind::Dense(op) => {
            let bias = op.bias.map(|b| inputs.typed::<f32>(b)).transpose()?;
            let shape = DenseShape {
                rows: op.rows,
                in_features: op.in_features,
                out_features: op.out_features,
            };
            let run = if blocked(op.weights) {
                kernels::dense::dense_f32_blocked
            } else {
                kernels::dense::dense_f32
            };
            run(
                shape,
                op.act,
                inputs.typed(op.input)?,
                inputs.typed(op.weights)?,
                bias,
                cast_mut(out)?,
            )?
        }
        #[cfg(all(feature = "float", feature = "matmul"))]
        OpKind::MatMul(op) => kernels::matmul::matmul_f32(
            &op.a_shape,
            &op.b_shape,
            &op.out_shape,
            inputs.typed(op.a)?,
            inputs.typed(op.b)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "float", feature = "binary"))]
        OpKind::Binary(op) => kernels::binary::binary_f32(
            op.kind,
            op.act,
            [&op.a_shape, &op.b_shape, &op.out_shape],
            inputs.typed_src(op.a)?,
            inputs.typed_src(op.b)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "float", feature = "unary"))]
        OpKind::Unary(op) => {
            kernels::unary::unary_f32(op.kind, inputs.typed_src(op.input)?, cast_mut(out)?)?
        }
        #[cfg(all(feature = "float", feature = "softmax"))]
        OpKind::Softmax(op) => kernels::softmax::softmax_f32(
            op.outer,
            op.axis,
            op.inner,
            op.log,
            inputs.typed(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "float", feature = "pool"))]
        OpKind::Pool2d(op) => {
            kernels::pool::pool2d_f32(op.kind, &op.geom, inputs.typed(op.input)?, cast_mut(out)?)?
        }
        #[cfg(all(feature = "float", feature = "pool"))]
        OpKind::GlobalPool(op) => {
            let kind = match op.kind {
                PoolKind::Max => PoolKind::Max,
                PoolKind::Avg { .. } => PoolKind::Avg {
                    count_include_pad: false,
                },
            };
            kernels::pool::global_pool_f32(
                kind,
                op.batch,
                op.spatial,
                op.channels,
                inputs.typed(op.input)?,
                cast_mut(out)?,
            )?
        }
        #[cfg(feature = "layout")]
        OpKind::Transpose(op) => {
            let (shape, perm, input) = (&op.in_shape, &op.perm, op.input);
            match op.dtype.size() {
                1 => kernels::transpose::transpose::<u8>(shape, perm, inputs.typed(input)?, out)?,
                2 => kernels::transpose::transpose::<u16>(
                    shape,
                    perm,
                    inputs.typed(input)?,
                    cast_mut(out)?,
                )?,
                _ => kernels::transpose::transpose::<u32>(
                    shape,
                    perm,
                    inputs.typed(input)?,
                    cast_mut(out)?,
                )?,
            }
        }
        #[cfg(feature = "layout")]
        OpKind::Copy(op) => {
            let plan = kernels::copy::BlockCopy {
                blocks: op.blocks,
                block: op.block_bytes,
                src_offset: op.src_offset,
                src_stride: op.src_stride,
                dst_offset: op.dst_offset,
                dst_stride: op.dst_stride,
            };
            kernels::copy::copy_blocks(&plan, inputs.typed(op.input)?, out)?
        }
        #[cfg(feature = "layout")]
        OpKind::Pad(op) => {
            let (from, to, begin, bits) = (&op.in_shape, &op.out_shape, &op.begin, op.value_bits);
            match op.dtype.size() {
                1 => kernels::pad::pad::<u8>(
                    from,
                    to,
                    begin,
                    bits as u8,
                    inputs.typed(op.input)?,
                    out,
                )?,
                2 => kernels::pad::pad::<u16>(
                    from,
                    to,
                    begin,
                    bits as u16,
                    inputs.typed(op.input)?,
                    cast_mut(out)?,
                )?,
                _ => kernels::pad::pad::<u32>(
                    from,
                    to,
                    begin,
                    bits,
                    inputs.typed(op.input)?,
                    cast_mut(out)?,
                )?,
            }
        }
        #[cfg(all(feature = "int8", feature = "conv"))]
        OpKind::Conv2dI8(op) => {
            let q = quant_out(
                &inputs,
                &op.requant,
                (op.input_zp, op.output_zp),
                (op.act_min, op.act_max),
            )?;
            let bias = op.bias.map(|b| inputs.typed::<i32>(b)).transpose()?;
            // Builds without `fast-kernels` refuse the widened layout on load.
            let widened = cfg!(feature = "fast-kernels") && layout.widens(&op.geom, op.weights);
            if widened {
                kernels::conv::conv2d_i8_widened(
                    &op.geom,
                    &q,
                    inputs.typed(op.input)?,
                    inputs.typed(op.weights)?,
                    bias,
                    cast_mut(out)?,
                )?
            } else {
                kernels::conv::conv2d_i8(
                    &op.geom,
                    &q,
                    inputs.typed(op.input)?,
                    inputs.typed(op.weights)?,
                    bias,
                    cast_mut(out)?,
                )?
            }
        }
        #[cfg(all(feature = "int8", feature = "dense"))]
        OpKind::DenseI8(op) => {
            let q = quant_out(
                &inputs,
                &op.requant,
                (op.input_zp, op.output_zp),
                (op.act_min, op.act_max),
            )?;
            let bias = op.bias.map(|b| inputs.typed::<i32>(b)).transpose()?;
            let shape = DenseShape {
                rows: op.rows,
                in_features: op.in_features,
                out_features: op.out_features,
            };
            kernels::dense::dense_i8(
                shape,
                &q,
                inputs.typed(op.input)?,
                inputs.typed(op.weights)?,
                bias,
                cast_mut(out)?,
            )?
        }
        #[cfg(all(feature = "int8", feature = "binary"))]
        OpKind::BinaryI8(op) => {
            let q = kernels::binary::QuantBinary {
                kind: op.kind,
                zero_points: op.zero_points,
                a_scale: op.a_scale,
                b_scale: op.b_scale,
                out_scale: op.out_scale,
                left_shift: op.left_shift,
                act_min: op.act_min,
                act_max: op.act_max,
            };
            let shapes = [&op.a_shape, &op.b_shape, &op.out_shape];
            kernels::binary::binary_i8(
                &q,
                shapes,
                inputs.typed_src(op.a)?,
                inputs.typed_src(op.b)?,
                cast_mut(out)?,
            )?
        }
        #[cfg(all(feature = "int8", feature = "pool"))]
        OpKind::Pool2dI8(op) => kernels::pool::pool2d_i8(
            op.kind,
            &op.geom,
            op.zero_point,
            (op.act_min, op.act_max),
            inputs.typed(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "int8", feature = "pool"))]
        OpKind::GlobalPoolI8(op) => kernels::pool::global_pool_i8(
            op.kind,
            op.batch,
            op.spatial,
            op.channels,
            inputs.typed(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "int8", feature = "softmax"))]
        OpKind::SoftmaxI8(op) => kernels::softmax::softmax_i8(
            op.outer,
            op.axis,
            op.inner,
            inputs.typed(op.table)?,
            inputs.typed(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "int8", feature = "lookup"))]
        OpKind::LookupI8(op) => kernels::lookup::lookup_i8(
            inputs.typed(op.table)?,
            inputs.typed_src(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "int8", feature = "quantize"))]
        OpKind::RequantizeI8(op) => kernels::quantize::requantize_i8(
            (op.input_zp, op.output_zp),
            op.scale,
            inputs.typed_src(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(feature = "quantize")]
        OpKind::Quantize(op) => kernels::quantize::quantize_f32(
            op.scale,
            op.zero_point,
            inputs.typed(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(feature = "quantize")]
        OpKind::Dequantize(op) => kernels::quantize::dequantize_i8(
            op.scale,
            op.zero_point,
            inputs.typed(op.input)?,
            cast_mut(out)?,
        )?,
        #[cfg(all(feature = "int8", feature = "conv", feature = "sparse"))]
        OpKind::Conv2dI8Sparse(op) => {
            let c = &op.conv;
            let q = quant_out(
                &inputs,
                &c.requant,
                (c.input_zp, c.output_zp),
                (c.act_min, c.act_max),
            )?;
            let bias = c.bias.map(|b| inputs.typed::<i32>(b)).transpose()?;
            kernels::sparse::conv2d_i8_sparse(
                &c.geom,
                &q,
                inputs.typed(c.input)?,
                &sparse_weights(&inputs, c.weights, &op.sparse)?,
                bias,
                cast_mut(out)?,
            )?
        }
        #[cfg(all(feature = "int8", feature = "dense", feature = "sparse"))]
        OpKind::DenseI8Sparse(op) => {
            let d = &op.dense;
            let q = quant_out(
                &inputs,
                &d.requant,
                (d.input_zp, d.output_zp),
                (d.act_min, d.act_max),
            )?;
            let bias = d.bias.map(|b| inputs.typed::<i32>(b)).transpose()?;
            let shape = DenseShape {
                rows: d.rows,
                in_features: d.in_features,
                out_features: d.out_features,
            };
            kernels::sparse::dense_i8_sparse(
                shape,
                &q,
                inputs.typed(d.input)?,
                &sparse_weights(&inputs, d.weights, &op.sparse)?,
                bias,
                cast_mut(out)?,
            )?
        }
        #[allow(unreachable_patterns)] // reached only by builds that leave operators out
        _ => return Err(Unresolved),
    }
    Ok(output)
}

/// The requantization tables of an int8 operator, resolved.
fn quant_out<'x>(
    inputs: &Inputs<'x>,
    requant: &Requant,
    zero_points: (i32, i32),
    act: (i8, i8),
) -> Result<QuantOut<'x>, Unresolved> {
    Ok(QuantOut {
        input_zp: zero_points.0,
        output_zp: zero_points.1,
        multipliers: inputs.typed(requant.multipliers)?,
        shifts: inputs.typed(requant.shifts)?,
        act_min: act.0,
        act_max: act.1,
    })
}

/// The packed values, bitmap and row offsets of a sparse weight tensor, resolved.
#[cfg(feature = "sparse")]
fn sparse_weights<'x>(
    inputs: &Inputs<'x>,
    values: crate::format::Buf,
    sparse: &crate::format::SparseI8,
) -> Result<kernels::sparse::SparseWeights<'x>, Unresolved> {
    Ok(kernels::sparse::SparseWeights {
        values: inputs.typed(values)?,
        bitmap: inputs.typed(sparse.bitmap)?,
        offsets: inputs.typed(sparse.offsets)?,
    })
}

fn cast_mut<T: bytemuck::Pod>(bytes: &mut [u8]) -> Result<&mut [T], Unresolved> {
    if bytes.is_empty() {
        return Ok(&mut []);
    }
    bytemuck::try_cast_slice_mut(bytes).map_err(|_| Unresolved)
}
