//! Verification of sparse int8 weights ([`crate::format::SparseI8`]): the layer's buffers as
//! for the dense operator, with as many values as the bitmap has set bits, and the encoding
//! itself read from the weight blob: bitmap and offsets sized for the rows, unused bitmap bits
//! clear, every row's offset step equal to its popcount, the last offset the value count.

use super::int8::{activation, requantization, zero_point};
use super::{Check, Spaces, conv_buffers, dense_buffers, disjoint, ensure, layer, product};
use crate::format::{Buf, Conv2dI8Sparse, DenseI8Sparse, Space, SparseI8, bitmap_row_bytes};
use crate::kernels::chunks;
use crate::{DType, OpFault};

pub(super) fn conv2d(op: &Conv2dI8Sparse, s: &Spaces<'_>) -> Check {
    let c = &op.conv;
    super::float::conv_geometry(&c.geom)?;
    let g = &c.geom;
    let row_len = product(&[g.kernel_h, g.kernel_w, g.in_c / g.groups.max(1)]);
    let values = encoding(&op.sparse, c.weights, g.out_c, row_len, c.output, s)?;
    let mut buffers = conv_buffers(g, c.input, c.weights, c.bias, c.output);
    buffers.weights.1 = Some(values);
    layer(s, &buffers, DType::I8, DType::I32)?;
    requantization(&c.requant, g.out_c, c.output, s)?;
    zero_point(c.input_zp)?;
    zero_point(c.output_zp)?;
    activation(c.act_min, c.act_max)
}

pub(super) fn dense(op: &DenseI8Sparse, s: &Spaces<'_>) -> Check {
    let d = &op.dense;
    let row_len = Some(u64::from(d.in_features));
    let values = encoding(&op.sparse, d.weights, d.out_features, row_len, d.output, s)?;
    let bufs = [d.input, d.weights, d.output];
    let mut buffers = dense_buffers(d.rows, d.in_features, d.out_features, bufs, d.bias);
    buffers.weights.1 = Some(values);
    layer(s, &buffers, DType::I8, DType::I32)?;
    requantization(&d.requant, d.out_features, d.output, s)?;
    zero_point(d.input_zp)?;
    zero_point(d.output_zp)?;
    activation(d.act_min, d.act_max)
}

/// The bytes of a buffer in the weight blob (the encoding is read at load, so it must not be
/// in the arena, whose contents change).
fn blob<'w>(buf: Buf, s: &Spaces<'w>) -> Result<&'w [u8], OpFault> {
    ensure(buf.space == Space::Weights, OpFault::BadParameter)?;
    let start = usize::try_from(buf.offset).map_err(|_| OpFault::OutOfBounds)?;
    let len = usize::try_from(buf.bytes).map_err(|_| OpFault::OutOfBounds)?;
    start
        .checked_add(len)
        .and_then(|end| s.blob.get(start..end))
        .ok_or(OpFault::OutOfBounds)
}

/// Checks the bitmap and offsets of `rows` rows of `row_len` weights against each other and
/// returns the number of values they describe.
fn encoding(
    sp: &SparseI8,
    values: Buf,
    rows: u32,
    row_len: Option<u64>,
    output: Buf,
    s: &Spaces<'_>,
) -> Result<u64, OpFault> {
    let row_len = row_len
        .and_then(|l| usize::try_from(l).ok())
        .ok_or(OpFault::BadShape)?;
    let row_bytes = bitmap_row_bytes(row_len);
    let bitmap_len = u64::from(rows).checked_mul(row_bytes as u64);
    s.buf(sp.bitmap, DType::I8, bitmap_len)?;
    s.buf(sp.offsets, DType::I32, Some(u64::from(rows) + 1))?;
    disjoint(sp.bitmap, output)?;
    disjoint(sp.offsets, output)?;
    let bitmap = blob(sp.bitmap, s)?;
    let offsets = blob(sp.offsets, s)?;
    ensure(values.space == Space::Weights, OpFault::BadParameter)?;

    // Bits past `row_len` in a row's last byte must be clear.
    let tail_bits = row_len % 8;
    let tail_mask: u8 = if tail_bits == 0 { 0 } else { 0xff << tail_bits };
    let mut expected = 0u64;
    let mut words = chunks(offsets, 4).map(|w| {
        let le: [u8; 4] = w.try_into().unwrap_or_default();
        u64::from(u32::from_le_bytes(le))
    });
    ensure(words.next() == Some(0), OpFault::BadEncoding)?;
    // `chunks` yields nothing for rows of no weights (`row_bytes` 0): then every offset is 0.
    for row in chunks(bitmap, row_bytes) {
        if let Some(&last) = row.last() {
            ensure(last & tail_mask == 0, OpFault::BadEncoding)?;
        }
        let ones: u64 = row.iter().map(|b| u64::from(b.count_ones())).sum();
        expected += ones;
        ensure(words.next() == Some(expected), OpFault::BadEncoding)?;
    }
    ensure(words.all(|w| w == expected), OpFault::BadEncoding)?;
    Ok(expected)
}
