//! Softmax and log-softmax along one axis of a `[outer][axis][inner]` view.

mod reference;

use super::{LengthMismatch, expect_len, product};

/// Softmax (or log-softmax when `log`) of `input` into `output`.
pub fn softmax_f32(
    outer: u32,
    axis: u32,
    inner: u32,
    log: bool,
    input: &[f32],
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    let len = product(&[outer, axis, inner]);
    expect_len(input.len(), len)?;
    expect_len(output.len(), len)?;
    reference::softmax_f32(axis as usize, inner as usize, log, input, output);
    Ok(())
}

/// Longest axis of an int8 softmax: the sum of `e` then fits 32 bits, so small cores divide in
/// hardware instead of linking a 64-bit division routine.
pub const MAX_AXIS_I8: u32 = u16::MAX as u32;

/// int8 softmax: output scale 1/256, zero point -128. With `e(d) = exp(-d * scale)` in Q16
/// (`e(0) = 65536`, `e(d) = table[d - 1]`, 0 past the table), each output is
/// `round(256 * e(max - x) / sum) - 128`. The axis holds at most [`MAX_AXIS_I8`] elements.
pub fn softmax_i8(
    outer: u32,
    axis: u32,
    inner: u32,
    table: &[u16],
    input: &[i8],
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let len = product(&[outer, axis, inner]);
    expect_len(input.len(), len)?;
    expect_len(output.len(), len)?;
    if table.len() > 255 || axis > MAX_AXIS_I8 {
        return Err(LengthMismatch);
    }
    reference::softmax_i8(axis as usize, inner as usize, table, input, output);
    Ok(())
}
