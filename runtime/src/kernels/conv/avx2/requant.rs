//! [`requantize`](crate::kernels::fixedpoint::requantize) of eight output channels at once,
//! the same bits.
//!
//! The reference computes `((acc * m + 2^(s-1)) >> s) as i32` in 64 bits, `s = 31 - shift`
//! in `1..=62`. AVX2 has a signed 32x32 -> 64-bit multiply (`VPMULDQ`, on even lanes) but no
//! 64-bit arithmetic right shift, so each lane takes the high word of a 64-bit value instead:
//! for `s >= 32`, the high word of `acc * m + 2^(s-1)` shifted right by `s - 32` (floor shifts
//! compose); for `s < 32`, the high word of `(acc * m + 2^(s-1)) << (32 - s)`, which holds bits
//! `s..s + 32` of the sum (the bits the reference's truncation to `i32` keeps), even when the
//! left shift drops higher bits. The output zero point is then added (wrapping) and the result
//! clamped like [`clamp_i8`](crate::kernels::fixedpoint::clamp_i8): the maximum with the
//! lower bound, then the minimum with the upper.

use super::super::QuantOut;
use core::arch::x86_64::{
    __m256i, _mm_cvtsi128_si32, _mm256_add_epi32, _mm256_add_epi64, _mm256_blend_epi32,
    _mm256_castsi256_si128, _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_max_epi32,
    _mm256_min_epi32, _mm256_mul_epi32, _mm256_packs_epi16, _mm256_packs_epi32, _mm256_set1_epi32,
    _mm256_sllv_epi64, _mm256_srav_epi32, _mm256_srli_epi64,
};

/// The requantization of eight consecutive output channels, prepared once.
#[derive(Clone, Copy)]
pub(crate) struct Requant8 {
    multipliers: __m256i,
    /// `2^(s-1)` of channels 0, 2, 4, 6 and of 1, 3, 5, 7, as 64-bit lanes.
    round: [__m256i; 2],
    /// `max(32 - s, 0)`, as 64-bit lanes like `round`.
    left: [__m256i; 2],
    /// `max(s - 32, 0)` per channel.
    right: __m256i,
    output_zp: __m256i,
    act_min: __m256i,
    act_max: __m256i,
}

impl Requant8 {
    /// Channels `first..first + 8` of `q`; channels at or past `out_c` get multiplier 0.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn new(q: &QuantOut<'_>, first: usize, out_c: usize) -> Self {
        let mut multipliers = [0i32; 8];
        let mut round = [0i64; 8];
        let mut left = [0i64; 8];
        let mut right = [0i32; 8];
        for lane in 0..8 {
            let c = first + lane;
            let t = if q.multipliers.len() == 1 { 0 } else { c };
            let shift = q.shifts.get(t).copied().map_or(0, i32::from);
            let s = 31 - shift.clamp(-31, 30);
            if c < out_c {
                multipliers[lane] = q.multipliers.get(t).copied().unwrap_or(0);
            }
            round[lane] = 1i64 << (s - 1);
            left[lane] = i64::from((32 - s).max(0));
            right[lane] = (s - 32).max(0);
        }
        let split = |v: [i64; 8]| {
            let even = [v[0], v[2], v[4], v[6]];
            let odd = [v[1], v[3], v[5], v[7]];
            // SAFETY: each array is 32 readable bytes; the load has no alignment requirement.
            [even, odd].map(|h| unsafe { _mm256_loadu_si256(h.as_ptr().cast()) })
        };
        // SAFETY: each array is 32 readable bytes; the load has no alignment requirement.
        let load = |v: [i32; 8]| unsafe { _mm256_loadu_si256(v.as_ptr().cast()) };
        Self {
            multipliers: load(multipliers),
            round: split(round),
            left: split(left),
            right: load(right),
            output_zp: _mm256_set1_epi32(q.output_zp),
            act_min: _mm256_set1_epi32(i32::from(q.act_min)),
            act_max: _mm256_set1_epi32(i32::from(q.act_max)),
        }
    }

    /// The eight accumulators in `acc`, requantized to int8 in channel order.
    ///
    /// # Safety
    ///
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) unsafe fn apply(&self, acc: __m256i) -> [i8; 8] {
        let even = _mm256_mul_epi32(acc, self.multipliers);
        let odd = _mm256_mul_epi32(
            _mm256_srli_epi64::<32>(acc),
            _mm256_srli_epi64::<32>(self.multipliers),
        );
        let even = _mm256_sllv_epi64(_mm256_add_epi64(even, self.round[0]), self.left[0]);
        let odd = _mm256_sllv_epi64(_mm256_add_epi64(odd, self.round[1]), self.left[1]);
        // High words: the even lanes' moved down into place, the odd lanes' already there.
        let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        let scaled = _mm256_add_epi32(_mm256_srav_epi32(high, self.right), self.output_zp);
        let clamped = _mm256_min_epi32(_mm256_max_epi32(scaled, self.act_min), self.act_max);
        // In int8 range now, so the saturating packs are exact: per 128-bit half, channels
        // 0-3 (resp. 4-7) land in the low four bytes.
        let words = _mm256_packs_epi32(clamped, clamped);
        let bytes = _mm256_packs_epi16(words, words);
        let low = _mm_cvtsi128_si32(_mm256_castsi256_si128(bytes));
        let high = _mm_cvtsi128_si32(_mm256_extracti128_si256::<1>(bytes));
        let [a, b, c, d] = low.to_le_bytes();
        let [e, f, g, h] = high.to_le_bytes();
        [a, b, c, d, e, f, g, h].map(|v| v as i8)
    }
}
