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
