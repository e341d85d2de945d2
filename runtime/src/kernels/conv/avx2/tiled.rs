//! One-group convolutions with AVX2, output channels in the lanes ([`tiles`](super::tiles)
//! drives them): filters are arranged as pairs of consecutive 16-bit values
//! (`[pair][block][channel][2]`, [`VPMADDWD`](core::arch::x86_64::_mm256_madd_epi16)'s
//! operand), and windows are gathered, in the filter's order, as centred 16-bit pairs. Each
//! pair of input values is broadcast to all lanes and multiplied into two blocks of eight
//! channels, so every instruction of the inner loop is a load, a broadcast, a multiply-add or
//! an add: no widening of weights, no horizontal sums.
//!
//! Padding taps gather as zeros (the centred zero point), so they add nothing, exactly as the
//! reference skips them. A filter of odd length ends in a pair with a zero weight, which
//! cancels whatever the column holds there.

use super::super::QuantOut;
use super::super::fast::Dims;
use super::tiles::{BLOCKS, LANES, MAX_VALUES, PIXELS, Pixel, TileKernel, drive, taps_of};
use super::widen16;
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_set1_epi16,
    _mm256_set1_epi32, _mm256_setzero_si256, _mm256_storeu_si256, _mm256_sub_epi16,
};

/// Pairs of arranged weights held at once (32 KiB): the passes of a layer whose filters are
/// short share each gathered tile.
const ARRANGED: usize = 512;
/// Pairs of room past a column's last pair for the full-vector stores of its last tap.
const SLACK: usize = 8;

/// The arranged weights of one pair for the two blocks of a pass.
type PairBlocks = [[i16; 2 * LANES]; BLOCKS];
/// One pixel's gathered window, 16-bit values read two at a time.
type Column = [i16; MAX_VALUES + 2 * SLACK];

/// The `VPMADDWD` kernel.
struct Madd;

impl TileKernel for Madd {
    const VALUES: usize = 2;
    type Step = PairBlocks;
    type Arranged = [PairBlocks; ARRANGED];
    type Column = Column;

    #[inline(always)]
    fn arranged() -> Self::Arranged {
        [[[0; 2 * LANES]; BLOCKS]; ARRANGED]
    }

    #[inline(always)]
    fn column() -> Column {
        [0; MAX_VALUES + 2 * SLACK]
    }

    /// Arranges the filters of channels `first..first + count` (at most two blocks) as
    /// `[pair][block][channel][2]`: pair `j` holds values `2j` and `2j + 1` of the filter in its
    /// reference order. Missing channels, and the second value of the last pair when the filter
    /// has an odd length, are 0.
    #[inline(always)]
    fn arrange(
        weights: &[i8],
        filter: usize,
        first: usize,
        count: usize,
        arranged: &mut [PairBlocks],
    ) {
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

    #[inline(always)]
    fn start(
        _: &QuantOut<'_>,
        bias: Option<&[i32]>,
        _: &[i8],
        _: usize,
        channels: core::ops::Range<usize>,
    ) -> __m256i {
        let mut lanes = [0i32; LANES];
        if let Some(bias) = bias {
            for (c, lane) in channels.zip(lanes.iter_mut()) {
                *lane = bias.get(c).copied().unwrap_or(0);
            }
        }
        // SAFETY: `lanes` is 32 readable bytes; the load has no alignment requirement.
        unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) }
    }

    #[inline(always)]
    unsafe fn gather(d: &Dims, pixel: Pixel, input: &[i8], zp: i8, column: &mut Column) {
        // SAFETY: the caller guarantees AVX2.
        unsafe { gather(d, pixel, input, zp, column) }
    }

    #[inline(always)]
    unsafe fn multiply(
        arranged: &[PairBlocks],
        columns: &[Column; PIXELS],
        pairs: usize,
    ) -> [[__m256i; BLOCKS]; PIXELS] {
        // SAFETY: the caller guarantees AVX2.
        unsafe { multiply(arranged, columns, pairs) }
    }
}

/// A one-group convolution taken by [`tiles::takes`](super::tiles::takes), with an int8
/// input zero point.
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
    // SAFETY: the caller guarantees AVX2, all `Madd` needs.
    unsafe { drive::<Madd>(d, q, zp, input, weights, bias, output) }
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
