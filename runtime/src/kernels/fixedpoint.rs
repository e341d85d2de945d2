//! The integer arithmetic of quantized operators, as the TFLite int8 specification defines it:
//! requantization by a Q31 multiplier and a power-of-two shift, rounded once (TFLite's
//! single-rounding mode, which its reference outputs for the MLPerf Tiny models match bit for
//! bit). Every int8 kernel, reference and optimized, uses exactly these functions.

/// `x * multiplier * 2^shift / 2^31`, rounded once to nearest with ties toward positive
/// infinity: TFLite's requantization (`MultiplyByQuantizedMultiplier` with single rounding).
/// `shift` is clamped to `-31..=30`, the range the compiler produces.
#[inline(always)]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let total_shift = 31 - i64::from(shift.clamp(-31, 30));
    let round = 1i64 << (total_shift - 1);
    ((i64::from(x) * i64::from(multiplier) + round) >> total_shift) as i32
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
        assert_eq!(multiply_by_quantized_multiplier(2, 1 << 30, -1), 1); // 0.5 -> 1
        assert_eq!(multiply_by_quantized_multiplier(-2, 1 << 30, -1), 0); // -0.5 -> 0 (ties up)
        assert_eq!(multiply_by_quantized_multiplier(-3, 1 << 30, -1), -1); // -0.75 -> -1
        // Extreme shifts are clamped, never overflow.
        assert_eq!(
            multiply_by_quantized_multiplier(i32::MAX, i32::MAX, 127),
            multiply_by_quantized_multiplier(i32::MAX, i32::MAX, 30)
        );
        let _ = multiply_by_quantized_multiplier(i32::MIN, i32::MIN, -128);
    }
}
