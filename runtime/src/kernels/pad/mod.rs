//! Constant padding of a tensor of any element type.

mod reference;

use super::{LengthMismatch, expect_len};
use crate::format::{MAX_RANK, Shape};

/// `output` is `input` placed at `begin` inside a tensor of `out_shape` filled with `value`.
pub fn pad<T: Copy>(
    in_shape: &Shape,
    out_shape: &Shape,
    begin: &[u32; MAX_RANK],
    value: T,
    input: &[T],
    output: &mut [T],
) -> Result<(), LengthMismatch> {
    let rank = in_shape.rank();
    if out_shape.rank() != rank {
        return Err(LengthMismatch);
    }
    for ((&b, &i), &o) in begin.iter().zip(in_shape.dims()).zip(out_shape.dims()) {
        if u64::from(b) + u64::from(i) > u64::from(o) {
            return Err(LengthMismatch);
        }
    }
    let len = |s: &Shape| s.elements().and_then(|e| usize::try_from(e).ok());
    expect_len(input.len(), len(in_shape))?;
    expect_len(output.len(), len(out_shape))?;
    reference::pad(
        in_shape.dims(),
        out_shape.dims(),
        &begin[..rank],
        value,
        input,
        output,
    );
    Ok(())
}
