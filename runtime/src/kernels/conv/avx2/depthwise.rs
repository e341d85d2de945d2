//! Depthwise convolutions with AVX2: sixteen channels at a time. Taps go in pairs: the 16-bit
//! lanes of two taps' inputs are interleaved (`VPUNPCKLWD`/`VPUNPCKHWD`) against the same
//! interleaving of their weights, so one `VPMADDWD` adds both taps' products of eight
//! channels. Taps in the padding read the zero point, which the hoisted `zp * sum w` term
//! cancels, as in the portable kernel.

use super::super::QuantOut;
use super::super::fast::{Dims, MAX_TAPS, Taps, bias_of, run};
use super::requant::Requant8;
use super::{Avx2, load8, widen16};
use crate::kernels::conv::dot::Dot;
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_permute2x128_si256,
    _mm256_set1_epi16, _mm256_setzero_si256, _mm256_unpackhi_epi16, _mm256_unpacklo_epi16,
};

/// Channels per pass.
const LANES: usize = 16;
/// Tap pairs of the largest kernel.
const PAIRS: usize = MAX_TAPS.div_ceil(2);

/// The 16-bit lanes `v` as a vector.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load16(v: &[i16; LANES]) -> __m256i {
    // SAFETY: `v` is 32 readable bytes; the load has no alignment requirement.
    unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
}

/// Depthwise with at most [`MAX_TAPS`] taps and an int8 input zero point.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn depthwise(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let taps = d.k_h * d.k_w;
    let pairs = taps.div_ceil(2).min(PAIRS);
    // Where each tap reads, relative to the window's first tap (for windows inside the
    // input), and its kernel row and column.
    let mut offsets = [0usize; MAX_TAPS];
    let mut rows = [0usize; MAX_TAPS];
    let mut cols = [0usize; MAX_TAPS];
    for t in 0..taps.min(MAX_TAPS) {
        (rows[t], cols[t]) = (t / d.k_w, t % d.k_w);
        offsets[t] = (rows[t] * d.d_h * d.in_w + cols[t] * d.d_w) * d.in_c;
    }
    let padding = _mm256_set1_epi16(i16::from(zp));
    for first in (0..d.in_c).step_by(LANES) {
        let count = (d.in_c - first).min(LANES);
        // Weights of tap pairs, interleaved as the inputs will be; missing channels and the
        // tap after the last are zeros.
        let mut lo = [_mm256_setzero_si256(); PAIRS];
        let mut hi = [_mm256_setzero_si256(); PAIRS];
        let mut start = [0i32; LANES];
        let mut tap_weights = [[0i16; LANES]; MAX_TAPS + 1];
        for (k, s) in start.iter_mut().enumerate().take(count) {
            let filter = run(weights, (first + k) * taps, taps);
            let zp_term = q.input_zp.wrapping_mul(Avx2::sum(filter));
            *s = bias_of(bias, first + k).wrapping_sub(zp_term);
            for (t, &w) in filter.iter().enumerate() {
                if let Some(lane) = tap_weights.get_mut(t).and_then(|l| l.get_mut(k)) {
                    *lane = i16::from(w);
                }
            }
        }
        for p in 0..pairs {
            // SAFETY: the caller guarantees AVX2.
            let (a, b) = unsafe { (load16(&tap_weights[2 * p]), load16(&tap_weights[2 * p + 1])) };
            lo[p] = _mm256_unpacklo_epi16(a, b);
            hi[p] = _mm256_unpackhi_epi16(a, b);
        }
        let [start_lo, start_hi] = [0, 8].map(|h| {
            let mut s = [0i32; 8];
            for (s, &v) in s.iter_mut().zip(start.iter().skip(h)) {
                *s = v;
            }
            // SAFETY: the caller guarantees AVX2 (closures inherit the enclosing function's
            // target features).
            unsafe { load8(&s) }
        });
        // SAFETY: the caller guarantees AVX2.
        let requants = [0, 8].map(|h| unsafe { Requant8::new(q, first + h, d.in_c) });
        for n in 0..d.batch {
            for oy in 0..d.out_h {
                let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                for ox in 0..d.out_w {
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let pixel =
                        |iy: usize, ix: usize| ((n * d.in_h + iy) * d.in_w + ix) * d.in_c + first;
                    let inside = (ys.lo, ys.hi, xs.lo, xs.hi) == (0, d.k_h, 0, d.k_w);
                    let base = pixel(ys.first, xs.first);
                    // Tap `t`'s sixteen inputs (past the last channel: other values, whose
                    // weights are zeros), or the zero point in the padding.
                    let tap = |t: usize| -> __m256i {
                        if t >= taps {
                            return padding;
                        }
                        let at = if inside {
                            base.wrapping_add(offsets[t])
                        } else {
                            let (ky, kx) = (rows[t], cols[t]);
                            if !(ys.lo..ys.hi).contains(&ky) || !(xs.lo..xs.hi).contains(&kx) {
                                return padding;
                            }
                            let iy = ys.first + (ky - ys.lo) * d.d_h;
                            let ix = xs.first + (kx - xs.lo) * d.d_w;
                            pixel(iy, ix)
                        };
                        // SAFETY: the caller guarantees AVX2 (closures inherit the
                        // enclosing function's target features).
                        unsafe { widen16(input, at) }
                    };
                    let mut acc_lo = _mm256_setzero_si256();
                    let mut acc_hi = _mm256_setzero_si256();
                    for p in 0..pairs {
                        let (a, b) = (tap(2 * p), tap(2 * p + 1));
                        let l = _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), lo[p]);
                        let h = _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), hi[p]);
                        acc_lo = _mm256_add_epi32(acc_lo, l);
                        acc_hi = _mm256_add_epi32(acc_hi, h);
                    }
                    // `acc_lo` holds channels 0-3 and 8-11, `acc_hi` 4-7 and 12-15.
                    let low = _mm256_permute2x128_si256::<0x20>(acc_lo, acc_hi);
                    let high = _mm256_permute2x128_si256::<0x31>(acc_lo, acc_hi);
                    // SAFETY: the caller guarantees AVX2.
                    let bytes = unsafe {
                        [
                            requants[0].apply(_mm256_add_epi32(low, start_lo)),
                            requants[1].apply(_mm256_add_epi32(high, start_hi)),
                        ]
                    };
                    let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c + first;
                    let out = output.get_mut(out_at..out_at + count).unwrap_or(&mut []);
                    for (o, v) in out.iter_mut().zip(bytes.into_iter().flatten()) {
                        *o = v;
                    }
                }
            }
        }
    }
}
