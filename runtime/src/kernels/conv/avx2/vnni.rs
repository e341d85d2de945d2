//! The layers of [`tiled`](super::tiled) with `VPDPBUSD` on 256-bit vectors, AVX-VNNI's
//! encoding (`_mm256_dpbusd_avx_epi32`) or AVX512-VNNI's (`_mm256_dpbusd_epi32`, with
//! AVX512-VL), whichever the CPU has ([`tiles`](super::tiles) drives both kernels): four
//! products of an unsigned and a signed byte summed into each 32-bit lane, 32 multiply-adds per
//! instruction, twice `VPMADDWD`'s.
//!
//! Exactness: the input is made unsigned by adding 128 (`x ^ 0x80`), padding included as
//! `zp + 128`, so every product `(x + 128) * w` and the sum of four (at most `4 * 255 * 128`)
//! are exact, and the non-saturating instruction adds them to the accumulator wrapping, like
//! the reference's. Over a whole window, padding taps included, `sum (x + 128) * w` equals
//! `sum (x - zp) * w + (zp + 128) * sum w`, so each accumulator starts from
//! `bias - (zp + 128) * sum w`: the reference's `bias + sum (x - zp) * w` modulo 2^32. The
//! filters are arranged as `[quad][block][channel][4]` bytes (four consecutive filter values
//! per lane), the last quad padded with zero weights, which cancel whatever the column holds
//! there.

use super::super::QuantOut;
use super::super::dot::Dot;
use super::super::fast::{Dims, bias_of, run};
use super::Avx2;
use super::tiles::{BLOCKS, LANES, MAX_VALUES, PIXELS, Pixel, TileKernel, drive, taps_of};
use core::arch::x86_64::{
    __m128i, __m256i, _mm_loadu_si128, _mm_set1_epi8, _mm_storeu_si128, _mm_xor_si128,
    _mm256_dpbusd_avx_epi32, _mm256_dpbusd_epi32, _mm256_loadu_si256, _mm256_set1_epi32,
    _mm256_setzero_si256,
};

/// How a CPU encodes `VPDPBUSD` on 256-bit vectors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// AVX-VNNI (VEX).
    Vex,
    /// AVX512-VNNI with AVX512-VL (EVEX): the same instruction on CPUs without AVX-VNNI.
    Evex,
}

impl Encoding {
    /// The encoding of a CPU with these features, AVX-VNNI's first.
    fn of(avx2: bool, avxvnni: bool, avx512vnni_vl: bool) -> Option<Self> {
        match (avx2, avxvnni, avx512vnni_vl) {
            (true, true, _) => Some(Self::Vex),
            (true, false, true) => Some(Self::Evex),
            _ => None,
        }
    }
}

/// The encoding this CPU runs (it then has AVX2 too), or none: detected at run time with
/// `std` (once, cached by std), from the target features without.
#[inline(always)]
pub(crate) fn encoding() -> Option<Encoding> {
    #[cfg(feature = "std")]
    {
        use std::is_x86_feature_detected as has;
        Encoding::of(
            has!("avx2"),
            has!("avxvnni"),
            has!("avx512vnni") && has!("avx512vl"),
        )
    }
    #[cfg(not(feature = "std"))]
    {
        Encoding::of(
            cfg!(target_feature = "avx2"),
            cfg!(target_feature = "avxvnni"),
            cfg!(all(
                target_feature = "avx512vnni",
                target_feature = "avx512vl"
            )),
        )
    }
}

/// Whether this CPU runs `VPDPBUSD` on 256-bit vectors (and so AVX2).
#[inline(always)]
pub(crate) fn available() -> bool {
    encoding().is_some()
}

/// Quads of arranged weights held at once (16 KiB).
const ARRANGED: usize = 256;
/// Bytes of room past a column's last value for the 16-byte stores of its last tap.
const SLACK: usize = 16;

/// The arranged weights of one quad for the two blocks of a pass.
type QuadBlocks = [[i8; 4 * LANES]; BLOCKS];
/// One pixel's gathered window, offset to unsigned, read four bytes at a time.
type Column = [u8; MAX_VALUES + SLACK];

/// The `VPDPBUSD` kernel, EVEX-encoded when `EVEX`.
struct Dpbusd<const EVEX: bool>;

impl<const EVEX: bool> TileKernel for Dpbusd<EVEX> {
    const VALUES: usize = 4;
    type Step = QuadBlocks;
    type Arranged = [QuadBlocks; ARRANGED];
    type Column = Column;

    #[inline(always)]
    fn arranged() -> Self::Arranged {
        [[[0; 4 * LANES]; BLOCKS]; ARRANGED]
    }

    #[inline(always)]
    fn column() -> Column {
        [0; MAX_VALUES + SLACK]
    }

    /// Arranges the filters of channels `first..first + count` (at most two blocks) as
    /// `[quad][block][channel][4]`; missing channels and the values past the filter are 0.
    #[inline(always)]
    fn arrange(
        weights: &[i8],
        filter: usize,
        first: usize,
        count: usize,
        arranged: &mut [QuadBlocks],
    ) {
        for quad in arranged.iter_mut() {
            *quad = [[0; 4 * LANES]; BLOCKS];
        }
        for k in 0..count {
            let (block, lane) = (k / LANES, k % LANES);
            let at = (first + k) * filter;
            let Some(w) = weights.get(at..at + filter) else {
                continue;
            };
            for (four, quad) in w.chunks(4).zip(arranged.iter_mut()) {
                for (i, &v) in four.iter().enumerate() {
                    if let Some(slot) = quad.get_mut(block).and_then(|b| b.get_mut(4 * lane + i)) {
                        *slot = v;
                    }
                }
            }
        }
    }

    /// `bias - (zp + 128) * sum w` per channel.
    #[inline(always)]
    fn start(
        q: &QuantOut<'_>,
        bias: Option<&[i32]>,
        weights: &[i8],
        filter: usize,
        channels: core::ops::Range<usize>,
    ) -> __m256i {
        let offset = q.input_zp.wrapping_add(128);
        let mut start = [0i32; LANES];
        for (c, s) in channels.zip(start.iter_mut()) {
            let sum = Avx2::sum(run(weights, c * filter, filter));
            *s = bias_of(bias, c).wrapping_sub(offset.wrapping_mul(sum));
        }
        // SAFETY: `start` is 32 readable bytes; the load has no alignment requirement.
        unsafe { _mm256_loadu_si256(start.as_ptr().cast()) }
    }

    #[inline(always)]
    unsafe fn gather(d: &Dims, pixel: Pixel, input: &[i8], zp: i8, column: &mut Column) {
        // SAFETY: the caller guarantees AVX2.
        unsafe { gather(d, pixel, input, (zp as u8) ^ 0x80, column) }
    }

    #[inline(always)]
    unsafe fn multiply(
        arranged: &[QuadBlocks],
        columns: &[Column; PIXELS],
        quads: usize,
    ) -> [[__m256i; BLOCKS]; PIXELS] {
        // SAFETY: the caller guarantees AVX2 and the encoding's features.
        unsafe {
            if EVEX {
                multiply_evex(arranged, columns, quads)
            } else {
                multiply_vex(arranged, columns, quads)
            }
        }
    }
}

/// A one-group convolution taken by [`tiles::takes`](super::tiles::takes), with an int8
/// input zero point, in `encoding`.
///
/// # Safety
///
/// The CPU must run `encoding` ([`encoding`] returned it).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn tiled_vnni(
    encoding: Encoding,
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    // SAFETY: the caller guarantees the encoding's features.
    unsafe {
        match encoding {
            Encoding::Vex => tiled_vex(d, q, zp, input, weights, bias, output),
            Encoding::Evex => tiled_evex(d, q, zp, input, weights, bias, output),
        }
    }
}

/// [`tiled_vnni`] with AVX-VNNI.
///
/// # Safety
///
/// The CPU must have AVX2 and AVX-VNNI.
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn tiled_vex(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    // SAFETY: the caller guarantees AVX2 and AVX-VNNI, all `Dpbusd<false>` needs.
    unsafe { drive::<Dpbusd<false>>(d, q, zp, input, weights, bias, output) }
}

/// [`tiled_vnni`] with AVX512-VNNI on 256-bit vectors.
///
/// # Safety
///
/// The CPU must have AVX2, AVX512-VNNI and AVX512-VL.
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
unsafe fn tiled_evex(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    // SAFETY: the caller guarantees AVX2, AVX512-VNNI and AVX512-VL, all `Dpbusd<true>` needs.
    unsafe { drive::<Dpbusd<true>>(d, q, zp, input, weights, bias, output) }
}

/// The sums of the arranged weights of one pass times the columns of a tile, with AVX-VNNI.
///
/// # Safety
///
/// The CPU must have AVX2 and AVX-VNNI.
#[target_feature(enable = "avx2,avxvnni")]
#[inline]
unsafe fn multiply_vex(
    arranged: &[QuadBlocks],
    columns: &[Column; PIXELS],
    quads: usize,
) -> [[__m256i; BLOCKS]; PIXELS] {
    multiply(arranged, columns, quads, |acc, x, w| {
        _mm256_dpbusd_avx_epi32(acc, x, w)
    })
}

/// [`multiply_vex`] with AVX512-VNNI on 256-bit vectors.
///
/// # Safety
///
/// The CPU must have AVX2, AVX512-VNNI and AVX512-VL.
#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
#[inline]
unsafe fn multiply_evex(
    arranged: &[QuadBlocks],
    columns: &[Column; PIXELS],
    quads: usize,
) -> [[__m256i; BLOCKS]; PIXELS] {
    multiply(arranged, columns, quads, |acc, x, w| {
        _mm256_dpbusd_epi32(acc, x, w)
    })
}

/// The loop of [`multiply_vex`] and [`multiply_evex`] around `dpbusd`; inlined into each, so
/// that it is compiled with its features.
#[inline(always)]
fn multiply(
    arranged: &[QuadBlocks],
    columns: &[Column; PIXELS],
    quads: usize,
    dpbusd: impl Fn(__m256i, __m256i, __m256i) -> __m256i,
) -> [[__m256i; BLOCKS]; PIXELS] {
    // SAFETY: AVX2 is in the features of both callers, into which this is inlined.
    let mut acc = [[unsafe { _mm256_setzero_si256() }; BLOCKS]; PIXELS];
    let [c0, c1, c2, c3] = columns.each_ref().map(|c| c.chunks_exact(4).map(quad));
    for ((((w, x0), x1), x2), x3) in arranged.iter().take(quads).zip(c0).zip(c1).zip(c2).zip(c3) {
        // SAFETY: each block is 32 readable bytes; the load has no alignment requirement.
        let w = w.map(|block| unsafe { _mm256_loadu_si256(block.as_ptr().cast()) });
        for (acc, x) in acc.iter_mut().zip([x0, x1, x2, x3]) {
            // SAFETY: as for the accumulators.
            let x = unsafe { _mm256_set1_epi32(x) };
            for (a, w) in acc.iter_mut().zip(w) {
                *a = dpbusd(*a, x, w);
            }
        }
    }
    acc
}

/// Four bytes as one 32-bit lane, the first in the low byte.
#[inline(always)]
fn quad(four: &[u8]) -> i32 {
    match four {
        [a, b, c, d, ..] => i32::from_le_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// 16 bytes of `s` from `at`; bytes past the end of `s` read as 0.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn load16(s: &[i8], at: usize) -> __m128i {
    match s.get(at..at.wrapping_add(16)) {
        // SAFETY: `v` is 16 readable bytes; the load has no alignment requirement.
        Some(v) => unsafe { _mm_loadu_si128(v.as_ptr().cast()) },
        None => {
            let mut buf = [0i8; 16];
            for (b, &v) in buf.iter_mut().zip(s.get(at..).unwrap_or(&[])) {
                *b = v;
            }
            // SAFETY: `buf` is 16 readable bytes; the load has no alignment requirement.
            unsafe { _mm_loadu_si128(buf.as_ptr().cast()) }
        }
    }
}

/// Gathers the window of `pixel` into `column` in the filter's order, each value plus 128;
/// taps in the padding are `padding` (the zero point plus 128).
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn gather(d: &Dims, pixel: Pixel, input: &[i8], padding: u8, column: &mut Column) {
    let flip = _mm_set1_epi8(i8::MIN);
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
                let v = _mm_xor_si128(unsafe { load16(input, src + step) }, flip);
                // SAFETY: `dst` is 16 writable bytes; the store has no alignment requirement.
                unsafe { _mm_storeu_si128(dst.as_mut_ptr().cast(), v) };
            }
        }
        None => {
            if let Some(dst) = column.get_mut(at..at + d.in_c) {
                dst.fill(padding);
            }
        }
    });
}
