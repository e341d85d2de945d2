//! Float32 convolution over [`Blocked8`](crate::format::WeightLayout::Blocked8) weights with
//! x86_64 AVX2, bit-exact with the reference: one 256-bit vector holds eight output channels,
//! each lane accumulating in the reference's order with `VMULPS` then `VADDPS` (two roundings,
//! never `VFMADD`, which rounds once and so differs in the last bit).
//!
//! Paths: one group (every lane reads the same input channel, broadcast; tiles of pixels and
//! blocks in [`super::blocked_tile`]) and depthwise with one output channel per input channel
//! (lane `l` reads input channel `l`: a vector load; [`super::blocked_depthwise`]) have AVX2
//! loops; other groupings run the portable packed kernel.

use super::super::blocked::{self, Dims};
use super::available;
use crate::format::Activation;

/// [`super::super::conv2d_f32_blocked`] with AVX2 where the CPU has it, the portable packed
/// kernel otherwise; lengths were checked by the caller.
pub(crate) fn conv2d_f32(
    d: &Dims,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let fits = d.packed_len() == Some(weights.len())
        && [d.batch, d.in_h, d.in_w, d.in_c]
            .iter()
            .try_fold(1usize, |a, &v| a.checked_mul(v))
            == Some(input.len())
        && [d.batch, d.out_h, d.out_w, d.out_c]
            .iter()
            .try_fold(1usize, |a, &v| a.checked_mul(v))
            == Some(output.len());
    let one_group = d.ipg == d.in_c;
    let depthwise = d.ipg == 1 && d.opg.get() == 1;
    if available() && fits && d.blocks > 0 && one_group {
        // SAFETY: the CPU has AVX2 (checked above), and the slice lengths match `d` exactly.
        unsafe { super::blocked_tile::conv2d_f32(d, act, input, weights, bias, output) }
    } else if available() && fits && d.blocks > 0 && depthwise {
        // SAFETY: as above.
        unsafe { super::blocked_depthwise::conv2d_f32(d, act, input, weights, bias, output) }
    } else {
        blocked::conv2d_f32(d, act, input, weights, bias, output);
    }
}
