//! Max and average pooling over NHWC data, windowed and global.

mod reference;

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
    expect_len(input.len(), product(&[g.batch, g.in_h, g.in_w, g.channels]))?;
    expect_len(
        output.len(),
        product(&[g.batch, g.out_h, g.out_w, g.channels]),
    )?;
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
    expect_len(input.len(), product(&[batch, spatial, channels]))?;
    expect_len(output.len(), product(&[batch, channels]))?;
    reference::global_pool_f32(kind, spatial as usize, channels as usize, input, output);
    Ok(())
}
