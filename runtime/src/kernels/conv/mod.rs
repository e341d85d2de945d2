//! 2-D convolution over NHWC data with `[out_c][kernel_h][kernel_w][in_c / groups]` weights.

#[cfg(whittle_avx2)]
pub(crate) mod avx2;
mod blocked;
mod dot;
#[cfg(whittle_arm_dsp)]
mod dsp;
mod fast;
#[cfg(whittle_neon)]
mod neon;
mod reference;

#[cfg(whittle_avx2)]
pub(crate) use avx2::{available as avx2_available, vnni_available};

pub(crate) use dot::{Dot, Portable};
#[cfg(whittle_arm_dsp)]
pub(crate) use dsp::ArmDsp;
#[cfg(whittle_neon)]
pub(crate) use neon::Neon;
#[cfg(whittle_neon_dot)]
pub(crate) use neon::NeonDot;

use super::{LengthMismatch, Variant, expect_len, product};
use crate::format::{Activation, ConvGeometry};

/// `output = act(conv(input, weights) + bias)`; returns an error instead of panicking when the
/// slice lengths contradict `geom`.
pub fn conv2d_f32(
    geom: &ConvGeometry,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    check_lengths(
        geom,
        [input.len(), weights.len(), output.len()],
        bias.map(<[f32]>::len),
    )?;
    reference::conv2d_f32(geom, act, input, weights, bias, output);
    Ok(())
}

/// [`conv2d_f32`] over weights packed in the
/// [`Blocked8`](crate::format::WeightLayout::Blocked8) layout, bit for bit the same results.
/// Runs [`Variant::selected`]: AVX2 where it is compiled in and the CPU has it, the portable
/// packed kernel otherwise.
pub fn conv2d_f32_blocked(
    geom: &ConvGeometry,
    act: Activation,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    conv2d_f32_blocked_variant(Variant::selected(), geom, act, input, packed, bias, output)
}

/// [`conv2d_f32_blocked`] computed by `variant` (`Avx2` has kernels of its own, every other
/// variant runs the portable packed kernel).
#[inline(always)]
pub fn conv2d_f32_blocked_variant(
    variant: Variant,
    geom: &ConvGeometry,
    act: Activation,
    input: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let d = blocked::Dims::new(geom).ok_or(LengthMismatch)?;
    check_lengths(
        geom,
        [input.len(), reference_len(geom)?, output.len()],
        bias.map(<[f32]>::len),
    )?;
    expect_len(packed.len(), d.packed_len())?;
    match variant {
        #[cfg(whittle_avx2)]
        Variant::Avx2 | Variant::AvxVnni => {
            avx2::blocked::conv2d_f32(&d, act, input, packed, bias, output)
        }
        _ => blocked::conv2d_f32(&d, act, input, packed, bias, output),
    }
    Ok(())
}

/// Elements of the packed weights of a convolution: `ceil(out_c / 8) * 8 * kernel_h *
/// kernel_w * in_c / groups`.
pub fn blocked_len(geom: &ConvGeometry) -> Result<usize, LengthMismatch> {
    blocked::Dims::new(geom)
        .and_then(|d| d.packed_len())
        .ok_or(LengthMismatch)
}

/// Packs reference weights (`[out_c][kernel_h][kernel_w][in_c / groups]`) into the
/// [`Blocked8`](crate::format::WeightLayout::Blocked8) layout; `packed` holds
/// [`blocked_len`] elements.
pub fn pack_blocked(
    geom: &ConvGeometry,
    weights: &[f32],
    packed: &mut [f32],
) -> Result<(), LengthMismatch> {
    let d = blocked::Dims::new(geom).ok_or(LengthMismatch)?;
    expect_len(weights.len(), Some(reference_len(geom)?))?;
    expect_len(packed.len(), d.packed_len())?;
    blocked::pack(&d, weights, packed);
    Ok(())
}

/// Elements of the reference weights of a convolution.
fn reference_len(g: &ConvGeometry) -> Result<usize, LengthMismatch> {
    if g.groups == 0 {
        return Err(LengthMismatch);
    }
    product(&[g.out_c, g.kernel_h, g.kernel_w, g.in_c / g.groups]).ok_or(LengthMismatch)
}

/// Quantization parameters shared by the int8 convolution and fully connected kernels.
#[derive(Debug, Clone, Copy)]
pub struct QuantOut<'a> {
    /// Zero point subtracted from every input value (padding contributes nothing).
    pub input_zp: i32,
    /// Zero point added to every output value.
    pub output_zp: i32,
    /// Q31 multipliers, one per output channel or one for all.
    pub multipliers: &'a [i32],
    /// Shifts matching `multipliers`.
    pub shifts: &'a [i8],
    /// Lowest output value.
    pub act_min: i8,
    /// Highest output value.
    pub act_max: i8,
}

impl QuantOut<'_> {
    /// Whether the requantization tables fit `channels` output channels.
    pub fn fits(&self, channels: u32) -> bool {
        let n = self.multipliers.len();
        n == self.shifts.len() && (n == 1 || n == channels as usize)
    }
}

/// int8 convolution: `acc = bias + sum (x - input_zp) * w`, requantized per channel, plus the
/// output zero point, clamped to the activation range. Runs [`Variant::selected`].
pub fn conv2d_i8(
    geom: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    conv2d_i8_variant(Variant::selected(), geom, q, input, weights, bias, output)
}

/// [`conv2d_i8`] computed by `variant`; every variant gives the same bits.
// Inlined so that with a constant variant only its code is linked (see `Variant::selected`).
#[inline(always)]
pub fn conv2d_i8_variant(
    variant: Variant,
    geom: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    if !q.fits(geom.out_c) {
        return Err(LengthMismatch);
    }
    check_lengths(
        geom,
        [input.len(), weights.len(), output.len()],
        bias.map(<[i32]>::len),
    )?;
    match variant {
        Variant::Reference => reference::conv2d_i8(geom, q, input, weights, bias, output),
        Variant::Portable => fast::conv2d_i8::<Portable>(geom, q, input, weights, bias, output),
        #[cfg(whittle_arm_dsp)]
        Variant::ArmDsp => fast::conv2d_i8::<ArmDsp>(geom, q, input, weights, bias, output),
        #[cfg(whittle_neon)]
        Variant::Neon => fast::conv2d_i8::<Neon>(geom, q, input, weights, bias, output),
        #[cfg(whittle_neon_dot)]
        Variant::NeonDot => fast::conv2d_i8::<NeonDot>(geom, q, input, weights, bias, output),
        #[cfg(whittle_avx2)]
        Variant::Avx2 => avx2::conv2d_i8(geom, q, input, weights, bias, output),
        #[cfg(whittle_avx2)]
        Variant::AvxVnni => avx2::conv2d_i8_vnni(geom, q, input, weights, bias, output),
    }
    Ok(())
}

/// Whether `g` has whole groups and buffers of these lengths (in elements) fit it.
fn check_lengths(
    g: &ConvGeometry,
    [input, weights, output]: [usize; 3],
    bias: Option<usize>,
) -> Result<(), LengthMismatch> {
    if g.groups == 0 || !g.in_c.is_multiple_of(g.groups) || !g.out_c.is_multiple_of(g.groups) {
        return Err(LengthMismatch);
    }
    expect_len(input, product(&[g.batch, g.in_h, g.in_w, g.in_c]))?;
    expect_len(
        weights,
        product(&[g.out_c, g.kernel_h, g.kernel_w, g.in_c / g.groups]),
    )?;
    expect_len(output, product(&[g.batch, g.out_h, g.out_w, g.out_c]))?;
    bias.map_or(Ok(()), |len| expect_len(len, product(&[g.out_c])))
}
