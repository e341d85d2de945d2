//! The integer arithmetic of quantized operators, as the TFLite int8 specification defines it
//! (gemmlowp rounding): requantization by a Q31 multiplier and a power-of-two shift.
//! Every int8 kernel, reference and optimized, uses exactly these functions.

/// `a * b / 2^31` rounded to nearest, ties toward positive infinity (gemmlowp's nudge then
/// truncation), saturating the single overflow case (`i32::MIN * i32::MIN`).
#[inline(always)]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 {
        1i64 << 30
    } else {
        1 - (1i64 << 30)
    };
    // Division (not shift): truncates toward zero, as gemmlowp does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^exponent` rounded to nearest, ties away from zero. `exponent` is in `0..=31`.
#[inline(always)]
pub fn rounding_divide_by_pot(x: i32, exponent: u32) -> i32 {
    let exponent = exponent.min(31);
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `x * multiplier * 2^shift / 2^31` with TFLite's double rounding: a left shift (for
/// `shift > 0`), the rounding doubling high multiply, then a rounding right shift.
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.max(0) as u32;
    let right = (-shift).max(0) as u32;
    let shifted = x.wrapping_shl(left.min(31));
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(shifted, multiplier),
        right,
    )
}

/// The Q31 multiplier and shift encoding `real` (TFLite's `QuantizeMultiplier`): `real =
/// multiplier * 2^shift / 2^31` with `multiplier` in `[2^30, 2^31)`. Zero encodes as `(0, 0)`.
/// Used by the compiler; no kernel calls it.
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (fraction, exponent) = libm::frexp(real);
    let mut q = libm::round(fraction * (1i64 << 31) as f64) as i64;
    let mut shift = exponent;
    if q == 1i64 << 31 {
        q /= 2;
        shift += 1;
    }
    if shift < -31 {
        return (0, 0);
    }
    (q as i32, shift.min(30))
}

/// Requantizes a convolution or fully connected accumulator for output channel `channel`:
/// rescale, add the output zero point, clamp to the activation range.
#[inline(always)]
pub fn requantize(acc: i32, q: &super::conv::QuantOut<'_>, channel: usize) -> i8 {
    let c = if q.multipliers.len() == 1 { 0 } else { channel };
    let scaled = multiply_by_quantized_multiplier(acc, q.multipliers[c], i32::from(q.shifts[c]));
    clamp_i8(scaled.wrapping_add(q.output_zp), q.act_min, q.act_max)
}

/// Clamps to `lo..=hi` without panicking when `lo > hi` (the result is then `hi`).
#[inline(always)]
pub fn clamp_i8(v: i32, lo: i8, hi: i8) -> i8 {
    v.max(i32::from(lo)).min(i32::from(hi)) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_divide_rounds_half_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(3, 1), 2);
        assert_eq!(rounding_divide_by_pot(-3, 1), -2);
        assert_eq!(rounding_divide_by_pot(5, 2), 1);
        assert_eq!(rounding_divide_by_pot(-5, 2), -1);
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
    }

    #[test]
    fn high_mul_matches_gemmlowp() {
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 1 << 30),
            1 << 29
        );
        // 0.5 * 0.75 in Q31.
        assert_eq!(
            saturating_rounding_doubling_high_mul(1 << 30, 3 << 29),
            3 << 28
        );
        assert_eq!(
            saturating_rounding_doubling_high_mul(-(1 << 30), 3 << 29),
            -(3 << 28)
        );
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1); // 0.5 rounds up
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0); // -0.5 rounds up
    }

    #[test]
    fn quantize_multiplier_matches_tflite() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(0.25), (1 << 30, -1));
        assert_eq!(quantize_multiplier(1.5), (3 << 29, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        // 0.0006728 (a KWS bias scale): 0.68898... * 2^-10.
        let (m, s) = quantize_multiplier(0.000_672_840_8);
        assert_eq!(s, -10);
        assert!((f64::from(m) / 2f64.powi(31) * 2f64.powi(s) - 0.000_672_840_8).abs() < 1e-12);
    }

    #[test]
    fn multiplier_and_shift_scale_like_the_real_number() {
        // 1073741824 * 2^-1 encodes 0.25; 1610612736 * 2^1 encodes 1.5.
        assert_eq!(multiply_by_quantized_multiplier(1000, 1 << 30, -1), 250);
        assert_eq!(multiply_by_quantized_multiplier(-1000, 1 << 30, -1), -250);
        assert_eq!(multiply_by_quantized_multiplier(1000, 3 << 29, 1), 1500);
        assert_eq!(multiply_by_quantized_multiplier(3, 1 << 30, -1), 1); // 0.75 -> 1
        assert_eq!(multiply_by_quantized_multiplier(2, 1 << 30, -1), 1); // 0.5 -> 1 (away)
        assert_eq!(multiply_by_quantized_multiplier(-2, 1 << 30, -1), -1);
    }
}
