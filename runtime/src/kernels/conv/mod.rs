//! 2-D convolution over NHWC data with `[out_c][kernel_h][kernel_w][in_c / groups]` weights.

mod reference;

use super::{LengthMismatch, expect_len, product};
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
    let g = geom;
    if g.groups == 0 || !g.in_c.is_multiple_of(g.groups) || !g.out_c.is_multiple_of(g.groups) {
        return Err(LengthMismatch);
    }
    expect_len(input.len(), product(&[g.batch, g.in_h, g.in_w, g.in_c]))?;
    expect_len(
        weights.len(),
        product(&[g.out_c, g.kernel_h, g.kernel_w, g.in_c / g.groups]),
    )?;
    expect_len(output.len(), product(&[g.batch, g.out_h, g.out_w, g.out_c]))?;
    if let Some(b) = bias {
        expect_len(b.len(), product(&[g.out_c]))?;
    }
    reference::conv2d_f32(geom, act, input, weights, bias, output);
    Ok(())
}
