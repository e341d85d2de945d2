//! int8 -> int8 element-wise functions as 256-entry tables built by the compiler.

use super::{LengthMismatch, Src};

/// `output[i] = table[input[i] + 128]`; `input` may be the output itself.
pub fn lookup_i8(
    table: &[i8],
    input: Src<'_, i8>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let table: &[i8; 256] = table.try_into().map_err(|_| LengthMismatch)?;
    let index = |v: i8| usize::from(v as u8 ^ 0x80);
    match input {
        Src::Slice(x) if x.len() != output.len() => return Err(LengthMismatch),
        Src::Slice(x) => output
            .iter_mut()
            .zip(x)
            .for_each(|(y, &v)| *y = table[index(v)]),
        Src::Output => output.iter_mut().for_each(|y| *y = table[index(*y)]),
    }
    Ok(())
}
