//! One-group convolutions with AVX2, output channels in the lanes: the filters of sixteen
//! output channels (of up to [`MAX_PASSES`] such passes) are arranged once per layer on the
//! stack as pairs of consecutive 16-bit values (`[pair][block][channel][2]`,
//! [`VPMADDWD`](core::arch::x86_64::_mm256_madd_epi16)'s operand), and the windows of four
//! pixels are gathered, in the filter's order, as centred 16-bit pairs. Each pair of
//! input values is broadcast to all lanes and multiplied into two blocks of eight channels,
//! so every instruction of the inner loop is a load, a broadcast, a multiply-add or an add:
//! no widening of weights, no horizontal sums. The accumulators of eight channels are then
//! requantized together ([`Requant8`]).
//!
//! Padding taps gather as zeros (the centred zero point), so they add nothing, exactly as the
//! reference skips them. A filter of odd length ends in a pair with a zero weight, which
//! cancels whatever the column holds there.

use super::super::QuantOut;
use super::super::fast::{Dims, Taps};
use super::requant::Requant8;
use super::{store8, widen16};
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi16,
    _mm256_set1_epi32, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi16,
};

/// Most 16-bit pairs in a filter (`ceil(kernel_h * kernel_w * in_c / 2)`): 320 takes 3x3
/// windows of 64 channels and 1x1 windows of 640. A gathered column takes 4 bytes per pair.
pub(super) const MAX_PAIRS: usize = 320;
/// Pairs of arranged weights held at once (32 KiB): the passes of a layer whose filters are
/// short share each gathered tile.
const ARRANGED: usize = 512;
/// Most passes that share a gathered tile.
const MAX_PASSES: usize = 16;
/// Pixels per tile: each weight vector loaded serves all of them.
pub(super) const PIXELS: usize = 4;
/// Output channels per lane block.
pub(super) const LANES: usize = 8;
/// Lane blocks per pass.
pub(super) const BLOCKS: usize = 2;
/// Pairs of room past a column's last pair for the full-vector stores of its last tap.
const SLACK: usize = 8;

/// The arranged weights of one pair for the two blocks of a pass.
type PairBlocks = [[i16; 2 * LANES]; BLOCKS];
/// One pixel's gathered window, 16-bit values read two at a time.
type Column = [i16; 2 * (MAX_PAIRS + SLACK)];

/// Pairs in the filter of `d`: its `kernel_h * kernel_w * in_c` values in the reference
/// order, two by two, the last one padded.
pub(super) fn pairs_of(d: &Dims) -> usize {
    (d.k_h * d.k_w * d.in_c).div_ceil(2)
}

/// Whether [`tiled`] takes `d`: one group, a filter of at most [`MAX_PAIRS`] pairs.
pub(super) fn takes(d: &Dims) -> bool {
    d.groups == 1 && pairs_of(d) <= MAX_PAIRS
}

/// Pixel `(n, oy, ox)` of the output, stepped in memory order.
#[derive(Clone, Copy)]
pub(super) struct Pixel {
    n: usize,
    oy: usize,
    ox: usize,
}

impl Pixel {
    /// The first pixel of the output.
    pub(super) const FIRST: Pixel = Pixel { n: 0, oy: 0, ox: 0 };

    /// The pixel after this one.
    pub(super) fn next(self, d: &Dims) -> Self {
        let Pixel { n, oy, ox } = self;
        if ox + 1 < d.out_w {
            Pixel { ox: ox + 1, ..self }
        } else if oy + 1 < d.out_h {
            Pixel {
                oy: oy + 1,
                ox: 0,
                n,
            }
        } else {
            Pixel {
                n: n + 1,
                oy: 0,
                ox: 0,
            }
        }
    }
}

/// A one-group convolution taken by [`takes`], with an int8 input zero point.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn tiled(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let pairs = pairs_of(d);
    if pairs == 0 || pairs > MAX_PAIRS {
        return; // never: `takes` held, and `Dims` has no zero size
    }
    let pixels = d.batch * d.out_h * d.out_w;
    let pass_channels = BLOCKS * LANES;
    // Passes whose arranged weights fit at once: each tile is gathered once for all of them.
    let passes_at_once = (ARRANGED / pairs).min(MAX_PASSES);
    let mut arranged = [[[0i16; 2 * LANES]; BLOCKS]; ARRANGED];
    let mut columns = [[0i16; 2 * (MAX_PAIRS + SLACK)]; PIXELS];
    // The bias and requantization of each block of the passes held.
    // SAFETY: the caller guarantees AVX2.
    let none = unsafe { (bias_lanes(None, 0, 0), Requant8::new(q, 0, 0)) };
    let mut finish = [[none; BLOCKS]; MAX_PASSES];
    for chunk in (0..d.out_c).step_by(pass_channels * passes_at_once) {
        let chunk_end = d.out_c.min(chunk + pass_channels * passes_at_once);
        for (pass, first) in (chunk..chunk_end).step_by(pass_channels).enumerate() {
            let count = (chunk_end - first).min(pass_channels);
            let held = arranged.chunks_mut(pairs).nth(pass).unwrap_or(&mut []);
            arrange(d, weights, first, count, held);
            if let Some(finish) = finish.get_mut(pass) {
                for (b, f) in finish.iter_mut().enumerate() {
                    let channel = first + b * LANES;
                    // SAFETY: the caller guarantees AVX2.
                    *f = unsafe {
                        (
                            bias_lanes(bias, channel, d.out_c),
                            Requant8::new(q, channel, d.out_c),
                        )
                    };
                }
            }
        }
        let mut pixel = Pixel::FIRST;
        for tile in (0..pixels).step_by(PIXELS) {
            let in_tile = (pixels - tile).min(PIXELS);
            for column in columns.iter_mut().take(in_tile) {
                // SAFETY: the caller guarantees AVX2.
                unsafe { gather(d, pixel, input, zp, column) };
                pixel = pixel.next(d);
            }
            let held = arranged.chunks(pairs).zip(&finish);
            for (first, (held, finish)) in (chunk..chunk_end).step_by(pass_channels).zip(held) {
                let count = (chunk_end - first).min(pass_channels);
                // SAFETY: the caller guarantees AVX2.
                let acc = unsafe { multiply(held, &columns, pairs) };
                for (p, acc) in acc.iter().enumerate().take(in_tile) {
                    let out_at = (tile + p) * d.out_c + first;
                    for (b, (acc, (start, requant))) in acc.iter().zip(finish).enumerate() {
                        let at = out_at + b * LANES;
                        let lanes = count.saturating_sub(b * LANES).min(LANES);
                        let Some(out) = output.get_mut(at..at + lanes) else {
                            continue;
                        };
                        // SAFETY: the caller guarantees AVX2.
                        let bytes = unsafe { requant.apply(_mm256_add_epi32(*acc, *start)) };
                        store8(out, bytes);
                    }
                }
            }
        }
    }
}

/// The sums of the arranged weights of one pass times the columns of a tile: per pixel, the
/// two blocks of eight channels.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn multiply(
    arranged: &[PairBlocks],
    columns: &[Column; PIXELS],
    pairs: usize,
) -> [[__m256i; BLOCKS]; PIXELS] {
    let mut acc = [[_mm256_setzero_si256(); BLOCKS]; PIXELS];
    let [c0, c1, c2, c3] = columns.each_ref().map(|c| c.chunks_exact(2).map(pair));
    for ((((w, x0), x1), x2), x3) in arranged.iter().take(pairs).zip(c0).zip(c1).zip(c2).zip(c3) {
        // SAFETY: each block is 32 readable bytes; the load has no alignment requirement.
        let w = w.map(|block| unsafe { _mm256_loadu_si256(block.as_ptr().cast()) });
        for (acc, x) in acc.iter_mut().zip([x0, x1, x2, x3]) {
            let x = _mm256_set1_epi32(x);
            for (a, w) in acc.iter_mut().zip(w) {
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(x, w));
            }
        }
    }
    acc
}

/// Two 16-bit values as one 32-bit lane, the first in the low half.
#[inline(always)]
fn pair(two: &[i16]) -> i32 {
    match two {
        [lo, hi, ..] => i32::from(*lo as u16) | (i32::from(*hi) << 16),
        _ => 0,
    }
}

/// Arranges the filters of channels `first..first + count` (at most two blocks) as
/// `[pair][block][channel][2]`: pair `j` holds values `2j` and `2j + 1` of the filter in its
/// reference order. Missing channels, and the second value of the last pair when the filter
/// has an odd length, are 0.
fn arrange(d: &Dims, weights: &[i8], first: usize, count: usize, arranged: &mut [PairBlocks]) {
    let filter = d.filter_len();
    for pair in arranged.iter_mut() {
        *pair = [[0; 2 * LANES]; BLOCKS];
    }
    for k in 0..count {
        let (block, lane) = (k / LANES, k % LANES);
        let at = (first + k) * filter;
        let Some(w) = weights.get(at..at + filter) else {
            continue;
        };
        for (two, pair) in w.chunks(2).zip(arranged.iter_mut()) {
            for (i, &v) in two.iter().enumerate() {
                if let Some(slot) = pair.get_mut(block).and_then(|b| b.get_mut(2 * lane + i)) {
                    *slot = i16::from(v);
                }
            }
        }
    }
}

/// The biases of the eight channels from `first` (0 past `out_c`, or without a bias).
fn bias_lanes(bias: Option<&[i32]>, first: usize, out_c: usize) -> __m256i {
    let mut lanes = [0i32; LANES];
    if let Some(bias) = bias {
        for (c, lane) in (first..out_c).zip(lanes.iter_mut()) {
            *lane = bias.get(c).copied().unwrap_or(0);
        }
    }
    // SAFETY: `lanes` is 32 readable bytes; the load has no alignment requirement.
    unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) }
}

/// Gathers the window of `pixel` into `column` as centred 16-bit values (`x - zp`) in the
/// filter's order, two to a pair; taps in the padding are zeros.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn gather(d: &Dims, pixel: Pixel, input: &[i8], zp: i8, column: &mut Column) {
    let zp16 = _mm256_set1_epi16(i16::from(zp));
    taps_of(d, pixel, |at, src| match src {
        Some(src) => {
            // Sixteen values per step; the last step may write past the tap, into the next
            // tap's values (written after) or the slack.
            for step in (0..d.in_c).step_by(16) {
                let Some(dst) = column.get_mut(at + step..at + step + 16) else {
                    break;
                };
                // SAFETY: the caller guarantees AVX2 (closures inherit the enclosing
                // function's target features). Past the input this reads zeros.
                let v = _mm256_sub_epi16(unsafe { widen16(input, src + step) }, zp16);
                // SAFETY: `dst` is 32 writable bytes; the store has no alignment requirement.
                unsafe { _mm256_storeu_si256(dst.as_mut_ptr().cast(), v) };
            }
        }
        None => {
            if let Some(dst) = column.get_mut(at..at + d.in_c) {
                dst.fill(0);
            }
        }
    });
}

/// Calls `tap(at, src)` for each tap of the window of `pixel`, in the filter's order: `at` is
/// where the tap's `in_c` values start in the filter, `src` where they start in the input, or
/// `None` for a tap in the padding.
#[inline(always)]
pub(super) fn taps_of(d: &Dims, pixel: Pixel, mut tap: impl FnMut(usize, Option<usize>)) {
    let Pixel { n, oy, ox } = pixel;
    let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
    for ky in 0..d.k_h {
        // The input row of tap row `ky`, when it is inside the input.
        let iy = (ys.lo..ys.hi)
            .contains(&ky)
            .then(|| ys.first + (ky - ys.lo) * d.d_h);
        for kx in 0..d.k_w {
            let src = match iy {
                Some(iy) if (xs.lo..xs.hi).contains(&kx) => {
                    let ix = xs.first + (kx - xs.lo) * d.d_w;
                    Some(((n * d.in_h + iy) * d.in_w + ix) * d.in_c)
                }
                _ => None,
            };
            tap((ky * d.k_w + kx) * d.in_c, src);
        }
    }
}
