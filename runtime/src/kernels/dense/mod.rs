//! Fully connected layer: `[rows][in]` x `[out][in]` weights -> `[rows][out]`.

mod reference;

use super::{LengthMismatch, expect_len, product};
use crate::format::Activation;

/// Shape of a fully connected layer.
#[derive(Debug, Clone, Copy)]
pub struct DenseShape {
    /// Rows (batch).
    pub rows: u32,
    /// Input features.
    pub in_features: u32,
    /// Output features.
    pub out_features: u32,
}

/// `output[r][o] = act(bias[o] + sum_i input[r][i] * weights[o][i])`.
pub fn dense_f32(
    shape: DenseShape,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let DenseShape {
        rows,
        in_features,
        out_features,
    } = shape;
    expect_len(input.len(), product(&[rows, in_features]))?;
    expect_len(weights.len(), product(&[out_features, in_features]))?;
    expect_len(output.len(), product(&[rows, out_features]))?;
    if let Some(b) = bias {
        expect_len(b.len(), product(&[out_features]))?;
    }
    reference::dense_f32(
        in_features as usize,
        out_features as usize,
        act,
        input,
        weights,
        bias,
        output,
    );
    Ok(())
}

/// int8 fully connected: `acc = bias[o] + sum_i (x[r][i] - input_zp) * w[o][i]`, requantized
/// per output feature.
pub fn dense_i8(
    shape: DenseShape,
    q: &super::conv::QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let DenseShape {
        rows,
        in_features,
        out_features,
    } = shape;
    if !q.fits(out_features) {
        return Err(LengthMismatch);
    }
    expect_len(input.len(), product(&[rows, in_features]))?;
    expect_len(weights.len(), product(&[out_features, in_features]))?;
    expect_len(output.len(), product(&[rows, out_features]))?;
    if let Some(b) = bias {
        expect_len(b.len(), product(&[out_features]))?;
    }
    reference::dense_i8(
        in_features as usize,
        out_features as usize,
        q,
        input,
        weights,
        bias,
        output,
    );
    Ok(())
}
