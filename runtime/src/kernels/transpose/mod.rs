//! Axis permutation of a tensor of any element type.

mod reference;

use super::{LengthMismatch, expect_len};
use crate::format::{MAX_RANK, Shape};

/// `output = input.permute(perm)` where `perm[i]` is the input axis of output axis `i`.
pub fn transpose<T: Copy>(
    in_shape: &Shape,
    perm: &[u8; MAX_RANK],
    input: &[T],
    output: &mut [T],
) -> Result<(), LengthMismatch> {
    let rank = in_shape.rank();
    let mut seen = [false; MAX_RANK];
    for &p in &perm[..rank] {
        let p = usize::from(p);
        if p >= rank || seen[p] {
            return Err(LengthMismatch);
        }
        seen[p] = true;
    }
    let len = in_shape.elements().and_then(|e| usize::try_from(e).ok());
    expect_len(input.len(), len)?;
    expect_len(output.len(), len)?;
    reference::transpose(in_shape.dims(), &perm[..rank], input, output);
    Ok(())
}
