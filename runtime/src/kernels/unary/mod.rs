//! Element-wise unary operators.

mod reference;

pub use reference::apply;

use super::{LengthMismatch, Src};
use crate::format::UnaryKind;

/// `output[i] = kind(input[i])`; `input` may be the output itself.
pub fn unary_f32(
    kind: UnaryKind,
    input: Src<'_, f32>,
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    match input {
        Src::Slice(x) if x.len() != output.len() => Err(LengthMismatch),
        Src::Slice(x) => {
            for (y, &v) in output.iter_mut().zip(x) {
                *y = apply(kind, v);
            }
            Ok(())
        }
        Src::Output => {
            for y in output.iter_mut() {
                *y = apply(kind, *y);
            }
            Ok(())
        }
    }
}
