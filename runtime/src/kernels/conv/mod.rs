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

/// Whether the [`Widened4`](crate::format::WeightLayout::Widened4) layout covers an int8
/// convolution of geometry `g`: one group, run by the optimized pointwise path (1x1, stride 1,
/// no padding) or the gathered one (a filter of at most 256 values that is not depthwise).
pub fn widens(g: &ConvGeometry) -> bool {
    fast::widened_dims(g).is_some()
}

/// Words of the widened weights of a convolution [`widens`] covers:
/// `8 * ceil(out_c / 4) * ceil(filter_len / 4)`.
pub fn widened_len(g: &ConvGeometry) -> Result<usize, LengthMismatch> {
    fast::widened_dims(g)
        .and_then(|d| fast::widened_words(&d))
        .ok_or(LengthMismatch)
}

/// Where reference weight `i` of channel `c` (of filters `filter` values long) lies in the
/// widened words: its word and whether it is the word's high half.
fn widened_at(filter: usize, c: usize, i: usize) -> (usize, bool) {
    let block = c / 4 * 8 * filter.div_ceil(4);
    (block + 8 * (i / 4) + 2 * (c % 4) + i % 2, i % 4 >= 2)
}

/// Widens reference weights (`[out_c][kernel_h][kernel_w][in_c]`) into the
/// [`Widened4`](crate::format::WeightLayout::Widened4) layout; `packed` holds
/// [`widened_len`] words.
pub fn pack_widened(
    g: &ConvGeometry,
    weights: &[i8],
    packed: &mut [u32],
) -> Result<(), LengthMismatch> {
    expect_len(weights.len(), Some(reference_len(g)?))?;
    expect_len(packed.len(), Some(widened_len(g)?))?;
    let filter = weights.len() / (g.out_c as usize).max(1);
    packed.fill(0);
    for (c, row) in super::chunks(weights, filter).enumerate() {
        for (i, &w) in row.iter().enumerate() {
            let (at, high) = widened_at(filter, c, i);
            let lane = u32::from(w as i16 as u16) << if high { 16 } else { 0 };
            if let Some(word) = packed.get_mut(at) {
                *word |= lane;
            }
        }
    }
    Ok(())
}

/// The reference weights of widened ones: the inverse of [`pack_widened`].
pub fn unpack_widened(
    g: &ConvGeometry,
    packed: &[u32],
    weights: &mut [i8],
) -> Result<(), LengthMismatch> {
    expect_len(weights.len(), Some(reference_len(g)?))?;
    expect_len(packed.len(), Some(widened_len(g)?))?;
    let filter = weights.len() / (g.out_c as usize).max(1);
    for (c, row) in super::chunks_mut(weights, filter).enumerate() {
        for (i, w) in row.iter_mut().enumerate() {
            let (at, high) = widened_at(filter, c, i);
            let word = packed.get(at).copied().unwrap_or(0);
            *w = (if high { word >> 16 } else { word }) as u16 as i16 as i8;
        }
    }
    Ok(())
}

/// [`conv2d_i8`] over weights widened in the
/// [`Widened4`](crate::format::WeightLayout::Widened4) layout, bit for bit the same results.
/// Runs [`Variant::selected`].
pub fn conv2d_i8_widened(
    geom: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    packed: &[u32],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    conv2d_i8_widened_variant(Variant::selected(), geom, q, input, packed, bias, output)
}

/// [`conv2d_i8_widened`] computed by `variant`: `ArmDsp` has its own dot products, every other
/// variant runs the portable ones (the layout is made for the DSP extension). Refuses a
/// geometry [`widens`] does not cover and an input zero point outside int8.
#[inline(always)]
pub fn conv2d_i8_widened_variant(
    variant: Variant,
    geom: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    packed: &[u32],
    bias: Option<&[i32]>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let zp = i8::try_from(q.input_zp).map_err(|_| LengthMismatch)?;
    if !q.fits(geom.out_c) {
        return Err(LengthMismatch);
    }
    check_lengths(
        geom,
        [input.len(), reference_len(geom)?, output.len()],
        bias.map(<[i32]>::len),
    )?;
    let d = fast::widened_dims(geom).ok_or(LengthMismatch)?;
    expect_len(packed.len(), fast::widened_words(&d))?;
    match variant {
        #[cfg(whittle_arm_dsp)]
        Variant::ArmDsp => {
            fast::conv2d_i8_widened::<ArmDsp>(&d, q, zp, input, packed, bias, output)
        }
        _ => fast::conv2d_i8_widened::<Portable>(&d, q, zp, input, packed, bias, output),
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
