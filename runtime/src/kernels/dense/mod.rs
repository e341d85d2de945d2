//! Fully connected layer: `[rows][in]` x `[out][in]` weights -> `[rows][out]`.

#[cfg(whittle_avx2)]
mod avx2;
mod fast;
mod reference;

#[cfg(whittle_arm_dsp)]
use super::conv::ArmDsp;
use super::conv::Portable;
use super::{LengthMismatch, Variant, expect_len, product};
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

impl DenseShape {
    /// Whether buffers of these lengths (in elements) fit this layer.
    fn check_lengths(
        self,
        input: usize,
        weights: usize,
        bias: Option<usize>,
        output: usize,
    ) -> Result<(), LengthMismatch> {
        let Self {
            rows,
            in_features,
            out_features,
        } = self;
        expect_len(input, product(&[rows, in_features]))?;
        expect_len(weights, product(&[out_features, in_features]))?;
        expect_len(output, product(&[rows, out_features]))?;
        bias.map_or(Ok(()), |len| expect_len(len, product(&[out_features])))
    }
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
    shape.check_lengths(
        input.len(),
        weights.len(),
        bias.map(<[f32]>::len),
        output.len(),
    )?;
    reference::dense_f32(
        shape.in_features as usize,
        shape.out_features as usize,
        act,
        input,
        weights,
        bias,
        output,
    );
    Ok(())
}

/// int8 fully connected: `acc = bias[o] + sum_i (x[r][i] - input_zp) * w[o][i]`, requantized
/// per output feature. Runs [`Variant::selected`].
pub fn dense_i8(
    shape: DenseShape,
    q: &super::conv::QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    dense_i8_variant(Variant::selected(), shape, q, input, weights, bias, output)
}

/// [`dense_i8`] computed by `variant`; every variant gives the same bits.
// Inlined so that with a constant variant only its code is linked (see `Variant::selected`).
#[inline(always)]
pub fn dense_i8_variant(
    variant: Variant,
    shape: DenseShape,
    q: &super::conv::QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    if !q.fits(shape.out_features) {
        return Err(LengthMismatch);
    }
    shape.check_lengths(
        input.len(),
        weights.len(),
        bias.map(<[i32]>::len),
        output.len(),
    )?;
    let (i, o) = (shape.in_features as usize, shape.out_features as usize);
    match variant {
        Variant::Reference => reference::dense_i8(i, o, q, input, weights, bias, output),
        Variant::Portable => fast::dense_i8::<Portable>(i, o, q, input, weights, bias, output),
        #[cfg(whittle_arm_dsp)]
        Variant::ArmDsp => fast::dense_i8::<ArmDsp>(i, o, q, input, weights, bias, output),
        #[cfg(whittle_avx2)]
        Variant::Avx2 => avx2::dense_i8(i, o, q, input, weights, bias, output),
    }
    Ok(())
}
