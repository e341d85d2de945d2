//! int8 convolution and fully connected layers computed straight from sparse weights
//! ([`crate::format::SparseI8`]): a bitmap of the nonzero positions per output channel and the
//! nonzero values packed. No decode buffer: each output walks its row of the bitmap. The
//! kernel is scalar; sparse weights save flash, not time.

mod reference;

use super::conv::QuantOut;
use super::dense::DenseShape;
use super::{LengthMismatch, expect_len, product};
use crate::format::{ConvGeometry, bitmap_row_bytes};

/// Sparse int8 weights of `rows` rows, borrowed in place.
#[derive(Debug, Clone, Copy)]
pub struct SparseWeights<'a> {
    /// The nonzero values, row after row.
    pub values: &'a [i8],
    /// One bit per weight, least significant first, each row padded to whole bytes.
    pub bitmap: &'a [u8],
    /// `rows + 1` start offsets of each row's values in `values`.
    pub offsets: &'a [u32],
}

impl SparseWeights<'_> {
    /// Whether the bitmap and offsets have the lengths of `rows` rows of `row_len` weights.
    /// The values are not checked here (the loader checks them against the bitmap); a value
    /// the bitmap points past contributes nothing rather than panicking.
    fn check(&self, rows: u32, row_len: Option<usize>) -> Result<(), LengthMismatch> {
        let row_bytes = row_len.map(bitmap_row_bytes).ok_or(LengthMismatch)?;
        let rows = usize::try_from(rows).map_err(|_| LengthMismatch)?;
        expect_len(self.bitmap.len(), rows.checked_mul(row_bytes))?;
        expect_len(self.offsets.len(), rows.checked_add(1))
    }
}

/// The int8 convolution of [`super::conv::conv2d_i8`] with sparse weights: the same bits as
/// the dense kernel on the decoded weights.
pub fn conv2d_i8_sparse(
    geom: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &SparseWeights<'_>,
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let g = geom;
    if !q.fits(g.out_c)
        || g.groups == 0
        || !g.in_c.is_multiple_of(g.groups)
        || !g.out_c.is_multiple_of(g.groups)
    {
        return Err(LengthMismatch);
    }
    weights.check(
        g.out_c,
        product(&[g.kernel_h, g.kernel_w, g.in_c / g.groups]),
    )?;
    expect_len(input.len(), product(&[g.batch, g.in_h, g.in_w, g.in_c]))?;
    expect_len(output.len(), product(&[g.batch, g.out_h, g.out_w, g.out_c]))?;
    if let Some(b) = bias {
        expect_len(b.len(), product(&[g.out_c]))?;
    }
    reference::conv2d_i8(g, q, input, weights, bias, output);
    Ok(())
}

/// The int8 fully connected layer of [`super::dense::dense_i8`] with sparse weights.
pub fn dense_i8_sparse(
    shape: DenseShape,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &SparseWeights<'_>,
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    if !q.fits(shape.out_features) {
        return Err(LengthMismatch);
    }
    weights.check(shape.out_features, product(&[shape.in_features]))?;
    expect_len(input.len(), product(&[shape.rows, shape.in_features]))?;
    expect_len(output.len(), product(&[shape.rows, shape.out_features]))?;
    if let Some(b) = bias {
        expect_len(b.len(), product(&[shape.out_features]))?;
    }
    let (i, o) = (shape.in_features as usize, shape.out_features as usize);
    reference::dense_i8(i, o, q, input, weights, bias, output);
    Ok(())
}
