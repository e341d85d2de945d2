//! Optimized int8 convolution, generic over its dot products ([`Dot`]), bit-exact with the
//! reference.
//!
//! The input zero point leaves the inner loops: `sum (x - zp) * w = sum x * w - zp * sum w`.
//! Wrapping int32 arithmetic is exact modulo 2^32, so the result has the reference's bits
//! whatever the order of the sums. Padding reads as the zero point, whose products the
//! hoisted term cancels, so a window that overlaps the padding needs no special case. Paths:
//! - pointwise 1x1: four filters, arranged once ([`Dot::prepare`]) or read as the compiler
//!   widened them ([`conv2d_i8_widened`]), against every pixel;
//! - depthwise: four channels at a time, contiguous in the input, all taps of a pixel;
//! - the rest: each pixel's window gathered into one contiguous column (`im2col`), then four
//!   filters (arranged or widened, as above) per pass over it;
//! - a fallback for filters longer than the column buffer (or a zero point outside int8):
//!   window rows as contiguous runs where `dilation_w == 1` and `groups == 1`, weight sums of
//!   the in-bounds taps computed on the fly at the borders.

use super::QuantOut;
use super::dot::Dot;
use crate::format::ConvGeometry;
use crate::kernels::fixedpoint::{Requant4, requantize};

/// Output channels whose requantization and weight sums are prepared at once (on the stack).
const BLOCK: usize = 16;
/// Longest filter gathered into a column (bytes of stack).
pub(super) const COLUMN: usize = 256;
/// Most kernel taps of the depthwise path (each takes 8 bytes of stack).
pub(super) const MAX_TAPS: usize = 25;

mod depthwise;
mod dims;
mod filters;
mod pointwise;
mod window;

use depthwise::depthwise;
pub(super) use dims::{Dims, Taps};
use filters::{Filters, Rows, Widened};
use pointwise::pointwise;
#[cfg(whittle_avx2)]
pub(super) use window::Window;
use window::{gathered, general};

/// `len` values of `s` from `at`, or none when out of range (never, after the length checks).
#[inline(always)]
pub(super) fn run(s: &[i8], at: usize, len: usize) -> &[i8] {
    s.get(at..at.wrapping_add(len)).unwrap_or(&[])
}

/// Bias of channel `c`, 0 without one.
#[inline(always)]
pub(super) fn bias_of(bias: Option<&[i32]>, c: usize) -> i32 {
    bias.and_then(|b| b.get(c)).copied().unwrap_or(0)
}

/// `bias - zp * weight_sum` for channel `c`: what its accumulator starts from.
#[inline(always)]
fn start_of(q: &QuantOut<'_>, bias: Option<&[i32]>, c: usize, weight_sum: i32) -> i32 {
    bias_of(bias, c).wrapping_sub(q.input_zp.wrapping_mul(weight_sum))
}

/// `bias + dots - zp * weight_sum`, requantized for channel `c`.
#[inline(always)]
fn finish(q: &QuantOut<'_>, bias: Option<&[i32]>, c: usize, dots: i32, weight_sum: i32) -> i8 {
    requantize(start_of(q, bias, c, weight_sum).wrapping_add(dots), q, c)
}

/// The weight sums of the filters of channels `first..first + sums.len()`.
fn filter_sums<D: Dot, F: Filters<D>>(filters: &F, first: usize, sums: &mut [i32]) {
    for (j, s) in sums.iter_mut().enumerate() {
        *s = filters.sum(first + j);
    }
}

/// [`super::conv2d_i8`] with the dot products of `D`; lengths were checked by the caller.
///
/// Each path is a function of its own, not inlined here, so that the stack one convolution
/// takes is the largest path's frame rather than their sum (on a microcontroller the stack
/// counts toward the inference's RAM).
pub(crate) fn conv2d_i8<D: Dot>(
    g: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let Some(d) = Dims::of(g) else {
        return super::reference::conv2d_i8(g, q, input, weights, bias, output);
    };
    // Padding can read as the zero point only when it is an int8 value (always, in a
    // verified model).
    let zp = i8::try_from(q.input_zp).ok();
    let rows = Rows {
        weights,
        len: d.filter_len(),
    };
    if d.is_pointwise() {
        pointwise::<D, _>(&d, q, input, &rows, bias, output);
    } else if let Some(zp) = zp
        && d.is_depthwise()
        && d.k_h * d.k_w <= MAX_TAPS
    {
        depthwise::<D>(&d, q, zp, input, weights, bias, output);
    } else if let Some(zp) = zp
        && d.filter_len() <= COLUMN
    {
        gathered::<D, _>(&d, q, zp, input, &rows, bias, output);
    } else {
        general::<D>(&d, q, input, weights, bias, output);
    }
}

/// The dimensions of a convolution the widened layout covers: one group, run by the
/// pointwise or the gathered path (not the depthwise one, nor the fallback). Sizes are
/// multiplied with overflow checks: the loader asks before it has checked any length.
pub(super) fn widened_dims(g: &ConvGeometry) -> Option<Dims> {
    let d = Dims::of(g)?;
    let taps = d.k_h.checked_mul(d.k_w)?;
    let filter = taps.checked_mul(d.in_per_group)?;
    let depthwise = d.is_depthwise() && taps <= MAX_TAPS;
    let fits = d.is_pointwise() || filter <= COLUMN;
    (d.groups == 1 && !depthwise && fits).then_some(d)
}

/// Words of the widened weights of `d` (from [`widened_dims`]):
/// `8 * ceil(out_c / 4) * ceil(filter_len / 4)`, `None` on overflow.
pub(super) fn widened_words(d: &Dims) -> Option<usize> {
    let filter = d.k_h.checked_mul(d.k_w)?.checked_mul(d.in_per_group)?;
    d.out_c
        .div_ceil(4)
        .checked_mul(filter.div_ceil(4))?
        .checked_mul(8)
}

/// [`super::conv2d_i8`] over widened weights (`d` from [`widened_dims`], `words` holding
/// [`widened_words`], `zp` the input zero point) with the dot products of `D`; lengths were
/// checked by the caller.
pub(crate) fn conv2d_i8_widened<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    words: &[u32],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let filters = Widened {
        words,
        len: d.filter_len(),
    };
    if d.is_pointwise() {
        pointwise::<D, _>(d, q, input, &filters, bias, output);
    } else {
        gathered::<D, _>(d, q, zp, input, &filters, bias, output);
    }
}

/// `bias - zp * sum w` for the filters of `channels`: what each accumulator starts from.
#[inline(always)]
fn offsets_of<D: Dot, F: Filters<D>>(
    q: &QuantOut<'_>,
    bias: Option<&[i32]>,
    channels: [usize; 4],
    filters: &F,
) -> [i32; 4] {
    let mut offsets = [0; 4];
    for (offset, &c) in offsets.iter_mut().zip(&channels) {
        *offset = bias_of(bias, c).wrapping_sub(q.input_zp.wrapping_mul(filters.sum(c)));
    }
    offsets
}

/// `a + b`, lane by lane, wrapping.
#[inline(always)]
fn add4([a0, a1, a2, a3]: [i32; 4], [b0, b1, b2, b3]: [i32; 4]) -> [i32; 4] {
    [
        a0.wrapping_add(b0),
        a1.wrapping_add(b1),
        a2.wrapping_add(b2),
        a3.wrapping_add(b3),
    ]
}

/// `a - b`, lane by lane, wrapping.
#[inline(always)]
fn sub4([a0, a1, a2, a3]: [i32; 4], [b0, b1, b2, b3]: [i32; 4]) -> [i32; 4] {
    [
        a0.wrapping_sub(b0),
        a1.wrapping_sub(b1),
        a2.wrapping_sub(b2),
        a3.wrapping_sub(b3),
    ]
}

/// Writes the first `count` accumulators, requantized, to `out` from `at`.
#[inline(always)]
fn store(out: &mut [i8], at: usize, count: usize, acc: [i32; 4], requants: &Requant4) {
    requants.store(out.get_mut(at..at + count).unwrap_or(&mut []), acc);
}
