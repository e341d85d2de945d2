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

/// The requantizations of four output channels, for kernels that finish four accumulators at
/// once. When all four take [`ChannelRequant`]'s high-word path and the activation range is
/// all of int8 (multipliers below 1/2 and no clamp but int8's: what most int8 layers have),
/// each output is a high-word multiply-add, a shift and a saturation, with no branch on the
/// channel's parameters; otherwise each channel's [`ChannelRequant::apply`]. Same bits as
/// [`requantize`].
#[derive(Debug, Clone, Copy)]
pub struct Requant4(Four);

/// Either form, not both: the kernels keep one of these on the stack per block of channels.
#[derive(Debug, Clone, Copy)]
enum Four {
    High([HighWord; 4]),
    Each([ChannelRequant; 4]),
}

/// One channel on the high-word path with int8's whole range (see [`ChannelRequant`]):
/// `clamp((((acc * multiplier) >> 32) + offset) >> shift)`. The field order is what an
/// assembly loop loads (`LDM`: multiplier, offset, shift).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct HighWord {
    multiplier: i32,
    offset: i32,
    /// `1..=30`.
    shift: u32,
}

impl HighWord {
    #[inline(always)]
    fn apply(&self, acc: i32) -> i8 {
        let high = ((i64::from(acc) * i64::from(self.multiplier)) >> 32) as i32;
        clamp_i8(
            high.wrapping_add(self.offset) >> (self.shift & 31),
            i8::MIN,
            i8::MAX,
        )
    }
}

impl Requant4 {
    /// The requantizations of `channels` (any channels when `q` is per tensor).
    pub fn new(q: &super::conv::QuantOut<'_>, channels: [usize; 4]) -> Self {
        let each = channels.map(|c| ChannelRequant::new(q, c));
        if each.iter().all(|r| r.high && r.saturate) {
            Self(Four::High(each.map(|r| HighWord {
                multiplier: r.multiplier,
                offset: r.offset,
                shift: r.shift,
            })))
        } else {
            Self(Four::Each(each))
        }
    }

    /// The four channels' high-word forms, when all four have one.
    #[inline(always)]
    #[cfg_attr(not(whittle_arm_dsp), allow(dead_code))]
    pub(crate) fn high_words(&self) -> Option<&[HighWord; 4]> {
        match &self.0 {
            Four::High(high) => Some(high),
            Four::Each(_) => None,
        }
    }

    /// Writes `requantize(acc[k], q, channels[k])` to `out[k]` for every `k < out.len()` (at
    /// most four).
    #[inline(always)]
    pub fn store(&self, out: &mut [i8], [a0, a1, a2, a3]: [i32; 4]) {
        let acc = [a0, a1, a2, a3];
        match (&self.0, out) {
            (Four::High([h0, h1, h2, h3]), [y0, y1, y2, y3]) => {
                *y0 = h0.apply(a0);
                *y1 = h1.apply(a1);
                *y2 = h2.apply(a2);
                *y3 = h3.apply(a3);
            }
            (Four::High(high), out) => {
                for ((y, a), h) in out.iter_mut().zip(acc).zip(high) {
                    *y = h.apply(a);
                }
            }
            (Four::Each(each), out) => {
                for ((y, a), r) in out.iter_mut().zip(acc).zip(each) {
                    *y = r.apply(a);
                }
            }
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

    /// An output's quantization: multipliers and shifts (one, or one per channel), zero point
    /// and activation range.
    fn quant<'a>(
        multipliers: &'a [i32],
        shifts: &'a [i8],
        output_zp: i32,
        (act_min, act_max): (i8, i8),
    ) -> crate::kernels::conv::QuantOut<'a> {
        crate::kernels::conv::QuantOut {
            input_zp: 0,
            output_zp,
            multipliers,
            shifts,
            act_min,
            act_max,
        }
    }

    #[test]
    fn four_channels_requantize_like_each_channel() {
        // Per-channel multipliers and shifts: all four on the high-word path (the branch-free
        // store), or one of them not, with the full int8 range or a narrower one.
        let high = [
            (1 << 30, -2i8),
            (i32::MAX, -3),
            ((1 << 30) + 77, -20),
            (1 << 30, -9),
        ];
        let mut mixed = high;
        mixed[2] = (3 << 29, 1);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as i32
        };
        for params in [high, mixed] {
            for (zp, act) in [(-128, (-128i8, 127i8)), (5, (-128, 127)), (-128, (-128, 6))] {
                let multipliers = params.map(|p| p.0);
                let shifts = params.map(|p| p.1);
                let q = quant(&multipliers, &shifts, zp, act);
                let four = Requant4::new(&q, [0, 1, 2, 3]);
                let fast = params == high && act == (i8::MIN, i8::MAX);
                assert_eq!(matches!(four.0, Four::High(_)), fast);
                // Miri runs this too: fewer rounds there.
                for round in 0..if cfg!(miri) { 40 } else { 2000 } {
                    let acc = [0; 4].map(|_| next() >> (round % 24));
                    let mut out = [0i8; 4];
                    four.store(&mut out, acc);
                    let expected = [0, 1, 2, 3].map(|c| requantize(acc[c], &q, c));
                    assert_eq!(out, expected, "{acc:?} {params:?} {zp} {act:?}");
                }
            }
        }
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
        let shift_cases = [
            -128i8, -40, -31, -30, -29, -20, -3, -2, -1, 0, 1, 5, 30, 31, 127,
        ];
        // Miri runs the unit tests too (this module has no unsafe code): a sample there.
        for &shift in shift_cases.iter().step_by(if cfg!(miri) { 4 } else { 1 }) {
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
                    let q = quant(&multipliers, &shifts, zp, act);
                    let prepared = ChannelRequant::new(&q, 0);
                    let four = Requant4::new(&q, [0; 4]);
                    for &acc in &accs {
                        let expected = requantize(acc, &q, 0);
                        assert_eq!(prepared.apply(acc), expected, "{acc} {m} {shift}");
                        // The unrolled form (four outputs) and the loop (fewer).
                        for len in [1, 4] {
                            let mut out = [0i8; 4];
                            four.store(&mut out[..len], [acc; 4]);
                            assert!(out[..len].iter().all(|&y| y == expected), "{len}");
                            assert!(out[len..].iter().all(|&y| y == 0), "{len}");
                        }
                    }
                }
            }
        }
    }
}
