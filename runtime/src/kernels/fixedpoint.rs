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
/// rescale, add the output zero point, clamp to the activation range. A channel past the
/// tables (never, once [`super::conv::QuantOut::fits`] held) has multiplier and shift 0.
#[inline(always)]
pub fn requantize(acc: i32, q: &super::conv::QuantOut<'_>, channel: usize) -> i8 {
    let c = if q.multipliers.len() == 1 { 0 } else { channel };
    let multiplier = q.multipliers.get(c).copied().unwrap_or(0);
    let shift = q.shifts.get(c).copied().map_or(0, i32::from);
    let scaled = multiply_by_quantized_multiplier(acc, multiplier, shift);
    clamp_i8(scaled.wrapping_add(q.output_zp), q.act_min, q.act_max)
}

/// One output channel's [`requantize`], prepared once for many accumulators. For a shift of
/// 33 or more (every multiplier below 1/2) it takes the high word of the product and one
/// 32-bit add and shift, the rounding term and the output zero point folded into the add:
/// with `s = 32 + r`, `r >= 1`, `(p + 2^(s-1)) >> s == ((p >> 32) + 2^(r-1)) >> r` (the
/// rounding term is a whole multiple of 2^32), and adding `zp * 2^r` before the shift adds
/// `zp` after it. Other shifts take the 64-bit path of [`requantize`]. Same bits as
/// [`requantize`].
#[derive(Debug, Clone, Copy)]
pub struct ChannelRequant {
    multiplier: i32,
    /// `(1 << (r - 1)) + output_zp * (1 << r)` on the high-word path, else `output_zp`.
    offset: i32,
    /// `r = total_shift - 32` on the high-word path, else `total_shift = 31 - shift`, in
    /// `1..=62`.
    shift: u32,
    /// Whether the high-word path applies.
    high: bool,
    /// Whether the activation range is all of int8: the clamp is then one saturation.
    saturate: bool,
    act_min: i8,
    act_max: i8,
}

impl ChannelRequant {
    /// The requantization of output channel `channel` (any channel when `q` is per tensor).
    pub fn new(q: &super::conv::QuantOut<'_>, channel: usize) -> Self {
        let c = if q.multipliers.len() == 1 { 0 } else { channel };
        let shift = q.shifts.get(c).copied().map_or(0, i32::from);
        let total_shift = (31 - shift.clamp(-31, 30)) as u32;
        let general = Self {
            multiplier: q.multipliers.get(c).copied().unwrap_or(0),
            offset: q.output_zp,
            shift: total_shift,
            high: false,
            saturate: (q.act_min, q.act_max) == (i8::MIN, i8::MAX),
            act_min: q.act_min,
            act_max: q.act_max,
        };
        if total_shift <= 32 {
            return general;
        }
        let r = total_shift - 32;
        let offset = (1i64 << (r - 1)) + i64::from(q.output_zp) * (1i64 << r);
        // `|p >> 32| <= 2^30`: with `|offset| < 2^30` their sum cannot wrap, nor can the
        // zero point's addition in `requantize` (its result is at most 2^30 / 2^r apart).
        match i32::try_from(offset) {
            Ok(offset) if offset.unsigned_abs() < 1 << 30 => Self {
                offset,
                shift: r,
                high: true,
                ..general
            },
            _ => general,
        }
    }

    /// `requantize(acc, q, channel)`.
    #[inline(always)]
    pub fn apply(&self, acc: i32) -> i8 {
        let product = i64::from(acc) * i64::from(self.multiplier);
        let scaled = if self.high {
            ((product >> 32) as i32).wrapping_add(self.offset) >> self.shift
        } else {
            let wide = product + (1i64 << (self.shift - 1));
            let scaled = if self.shift >= 32 {
                // Floor shifts compose: (w >> 32) >> (s - 32) == w >> s.
                ((wide >> 32) as i32) >> (self.shift - 32)
            } else {
                (wide >> self.shift) as i32
            };
            scaled.wrapping_add(self.offset)
        };
        if self.saturate {
            clamp_i8(scaled, i8::MIN, i8::MAX)
        } else {
            clamp_i8(scaled, self.act_min, self.act_max)
        }
    }
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

    #[test]
    fn prepared_requantization_matches_requantize() {
        let accs = [
            0,
            1,
            -1,
            2,
            -2,
            3,
            -3,
            1000,
            -1000,
            1 << 20,
            i32::MAX,
            i32::MIN,
            i32::MIN + 1,
            -(1 << 24) - 7,
            (1 << 24) + 9,
            12345,
            -12345,
        ];
        let multipliers = [0, 1, 1 << 30, (1 << 30) + 12345, i32::MAX, -1, i32::MIN];
        for shift in [
            -128i8, -40, -31, -30, -29, -20, -3, -2, -1, 0, 1, 5, 30, 31, 127,
        ] {
            for &m in &multipliers {
                for (zp, act) in [
                    (0, (-128, 127)),
                    (-128, (-128, 127)),
                    (127, (-5, 7)),
                    (3, (9, 2)),
                    (-40, (-128, 127)),
                    (1 << 20, (-128, 127)),
                    (i32::MIN, (-128, 127)),
                ] {
                    let (multipliers, shifts) = ([m], [shift]);
                    let q = crate::kernels::conv::QuantOut {
                        input_zp: 0,
                        output_zp: zp,
                        multipliers: &multipliers,
                        shifts: &shifts,
                        act_min: act.0,
                        act_max: act.1,
                    };
                    let prepared = ChannelRequant::new(&q, 0);
                    for &acc in &accs {
                        assert_eq!(
                            prepared.apply(acc),
                            requantize(acc, &q, 0),
                            "{acc} {m} {shift}"
                        );
                    }
                }
            }
        }
    }
}
