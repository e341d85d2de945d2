//! Conversions between float32 and int8, and between int8 scales.

use super::fixedpoint::{clamp_i8, multiply_by_quantized_multiplier};
use super::{LengthMismatch, Src};

/// `clamp(round_half_even(x / scale) + zero_point, -128, 127)`; NaN becomes the zero point.
pub fn quantize_f32(
    scale: f32,
    zero_point: i32,
    input: &[f32],
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    if input.len() != output.len() {
        return Err(LengthMismatch);
    }
    for (y, &x) in output.iter_mut().zip(input) {
        let q = libm::rintf(x / scale);
        // `as` saturates (NaN -> 0), then the clamp keeps the result in int8.
        *y = clamp_i8((q as i32).saturating_add(zero_point), i8::MIN, i8::MAX);
    }
    Ok(())
}

/// `(q - zero_point) * scale`.
pub fn dequantize_i8(
    scale: f32,
    zero_point: i32,
    input: &[i8],
    output: &mut [f32],
) -> Result<(), LengthMismatch> {
    if input.len() != output.len() {
        return Err(LengthMismatch);
    }
    for (y, &q) in output.iter_mut().zip(input) {
        *y = (i32::from(q) - zero_point) as f32 * scale;
    }
    Ok(())
}

/// `clamp(rescale(x - input_zp) + output_zp)`; `input` may be the output itself.
pub fn requantize_i8(
    zero_points: (i32, i32),
    scale: (i32, i32),
    input: Src<'_, i8>,
    output: &mut [i8],
) -> Result<(), LengthMismatch> {
    let convert = |v: i8| {
        let scaled =
            multiply_by_quantized_multiplier(i32::from(v) - zero_points.0, scale.0, scale.1);
        clamp_i8(scaled.wrapping_add(zero_points.1), i8::MIN, i8::MAX)
    };
    match input {
        Src::Slice(x) if x.len() != output.len() => return Err(LengthMismatch),
        Src::Slice(x) => output.iter_mut().zip(x).for_each(|(y, &v)| *y = convert(v)),
        Src::Output => output.iter_mut().for_each(|y| *y = convert(*y)),
    }
    Ok(())
}
