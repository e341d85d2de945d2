//! Max and average pooling over NHWC data, windowed and global.

mod reference;
// Adds code: only with the optimized kernels.
#[cfg(feature = "fast-kernels")]
mod whole;

use super::{LengthMismatch, expect_len, product};
use crate::format::{PoolGeometry, PoolKind};

/// Windowed pooling of `input` (`[batch][in_h][in_w][channels]`) into
/// `output` (`[batch][out_h][out_w][channels]`).
pub fn pool2d_f32(
    kind: PoolKind,
    geom: &PoolGeometry,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let g = geom;
    window_lengths(g, input.len(), output.len())?;
    reference::pool2d_f32(kind, g, input, output);
    Ok(())
}

/// Global pooling of `[batch][spatial][channels]` into `[batch][channels]`.
pub fn global_pool_f32(
    kind: PoolKind,
    batch: u32,
    spatial: u32,
    channels: u32,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    global_lengths([batch, spatial, channels], input.len(), output.len())?;
    reference::global_pool_f32(kind, spatial as usize, channels as usize, input, output);
    Ok(())
}

/// int8 windowed pooling (input and output share scale and zero point). Average pooling
/// divides with TFLite's rounding (half away from zero); with `count_include_pad` padding
/// counts as `zero_point`.
pub fn pool2d_i8(
    kind: PoolKind,
    geom: &PoolGeometry,
    zero_point: i32,
    act: (i8, i8),
    input: &[i8],
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let g = geom;
    window_lengths(g, input.len(), output.len())?;
    #[cfg(feature = "fast-kernels")]
    if whole::pool2d_i8(kind, g, act, input, output) {
        return Ok(());
    }
    reference::pool2d_i8(kind, g, zero_point, act, input, output);
    Ok(())
}

/// int8 global pooling of `[batch][spatial][channels]` into `[batch][channels]`.
pub fn global_pool_i8(
    kind: PoolKind,
    batch: u32,
    spatial: u32,
    channels: u32,
    input: &[i8],
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    global_lengths([batch, spatial, channels], input.len(), output.len())?;
    reference::global_pool_i8(kind, spatial as usize, channels as usize, input, output);
    Ok(())
}

/// Whether buffers of these lengths (in elements) fit windowed pooling with `g`.
fn window_lengths(g: &PoolGeometry, input: usize, output: usize) -> Result<(), LengthMismatch> {
    expect_len(input, product(&[g.batch, g.in_h, g.in_w, g.channels]))?;
    expect_len(output, product(&[g.batch, g.out_h, g.out_w, g.channels]))
}

/// Whether buffers of these lengths (in elements) fit global pooling of
/// `[batch][spatial][channels]`.
fn global_lengths(
    [batch, spatial, channels]: [u32; 3],
    input: usize,
    output: usize,
) -> Result<(), LengthMismatch> {
    expect_len(input, product(&[batch, spatial, channels]))?;
    expect_len(output, product(&[batch, channels]))
}
