//! Fully connected layer: `[rows][in]` x `[out][in]` weights -> `[rows][out]`.

#[cfg(whittle_avx2)]
mod avx2;
#[cfg(whittle_avx2)]
mod avx2_blocked;
mod blocked;
mod fast;
mod reference;

#[cfg(whittle_arm_dsp)]
use super::conv::ArmDsp;
#[cfg(whittle_neon)]
use super::conv::Neon;
#[cfg(whittle_neon_dot)]
use super::conv::NeonDot;
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
    /// Elements of the packed weights: `ceil(out_features / 8) * 8 * in_features`.
    pub fn blocked_len(self) -> Option<usize> {
        product(&[
            self.out_features.div_ceil(blocked::L as u32),
            blocked::L as u32,
            self.in_features,
        ])
    }

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

/// [`dense_f32`] over weights packed in the
/// [`Blocked8`](crate::format::WeightLayout::Blocked8) layout (`[ceil(out / 8)][in][8]`), bit
/// for bit the same results. Runs [`Variant::selected`]: AVX2 where it is compiled in and the
/// CPU has it, the portable packed kernel otherwise.
pub fn dense_f32_blocked(
    shape: DenseShape,
    act: Activation,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    dense_f32_blocked_variant(Variant::selected(), shape, act, input, packed, bias, output)
}

/// [`dense_f32_blocked`] computed by `variant` (`Avx2` has a kernel of its own, every other
/// variant runs the portable packed kernel).
#[inline(always)]
pub fn dense_f32_blocked_variant(
    variant: Variant,
    shape: DenseShape,
    act: Activation,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let reference = product(&[shape.out_features, shape.in_features]).ok_or(LengthMismatch)?;
    shape.check_lengths(input.len(), reference, bias.map(<[f32]>::len), output.len())?;
    expect_len(packed.len(), shape.blocked_len())?;
    let (i, o) = (shape.in_features as usize, shape.out_features as usize);
    match variant {
        #[cfg(whittle_avx2)]
        Variant::Avx2 | Variant::AvxVnni => {
            avx2_blocked::dense_f32(i, o, act, input, packed, bias, output)
        }
        _ => blocked::dense_f32(i, o, act, input, packed, bias, output),
    }
    Ok(())
}

/// Packs `[out][in]` weights into the [`Blocked8`](crate::format::WeightLayout::Blocked8)
/// layout; `packed` holds [`DenseShape::blocked_len`] elements.
pub fn pack_blocked(
    shape: DenseShape,
    weights: &[f32],
    packed: &mut [f32],
) -> Result<(), LengthMismatch> {
    expect_len(
        weights.len(),
        product(&[shape.out_features, shape.in_features]),
    )?;
    expect_len(packed.len(), shape.blocked_len())?;
    let (i, o) = (shape.in_features as usize, shape.out_features as usize);
    blocked::pack(i, o, weights, packed);
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
        #[cfg(whittle_neon)]
        Variant::Neon => fast::dense_i8::<Neon>(i, o, q, input, weights, bias, output),
        #[cfg(whittle_neon_dot)]
        Variant::NeonDot => fast::dense_i8::<NeonDot>(i, o, q, input, weights, bias, output),
        #[cfg(whittle_avx2)]
        Variant::Avx2 | Variant::AvxVnni => avx2::dense_i8(i, o, q, input, weights, bias, output),
    }
    Ok(())
}
