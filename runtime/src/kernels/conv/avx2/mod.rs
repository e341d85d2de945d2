//! int8 convolution with x86_64 AVX2, bit-exact with the reference.
//!
//! Every multiply-accumulate is `VPMOVSXBW` (int8 sign-extended to 16-bit lanes, exact),
//! then `VPMADDWD` (`_mm256_madd_epi16`: products of 16-bit lanes, adjacent pairs added into
//! 32-bit lanes) and `VPADDD` (wrapping 32-bit adds). Operands are int8 values or int8 values
//! minus an int8 zero point, so a product is at most `255 * 128` in magnitude and a pair sum
//! fits 32 bits exactly; `VPMADDWD` saturates only for two products of `-32768 * -32768`,
//! which these operands never reach. The sums then wrap modulo 2^32 like the reference's
//! accumulator, so the order of the additions does not matter. (`VPMADDUBSW` is not used: it
//! multiplies unsigned by signed bytes and saturates its 16-bit sums.) Requantization is the
//! scalar [`ChannelRequant`](crate::kernels::fixedpoint::ChannelRequant), as in the other
//! variants.
//!
//! Paths: depthwise ([`depthwise`]), one-group convolutions with filters of at most 640 values,
//! pointwise included ([`tiled`], output channels in the lanes), and grouped ones whose filters
//! fit the column buffer ([`gathered`]) have kernels of their own; the rest (very long filters,
//! a zero point outside int8) run the portable loops with AVX2 dot products ([`Avx2`]).
//!
//! Compiled when the build script sets `whittle_avx2` (x86_64 with the `avx2` target feature
//! or the `std` feature). [`available`] is `true` at compile time with the target feature, and
//! detected at run time (once, cached by std) otherwise; without AVX2 the portable code runs.
#![allow(unsafe_code)]

pub(crate) mod blocked;
mod blocked_depthwise;
mod blocked_tile;
mod depthwise;
mod gathered;
pub(crate) mod requant;
mod tiled;
mod tiles;
mod vnni;

pub(crate) use vnni::available as vnni_available;

use super::QuantOut;
use super::dot::{Dot, Portable};
use super::fast::{self, COLUMN, Dims, MAX_TAPS};
use crate::format::ConvGeometry;
use core::arch::x86_64::{
    __m256i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_shuffle_epi32,
    _mm256_add_epi32, _mm256_castsi256_si128, _mm256_cvtepi8_epi16, _mm256_extracti128_si256,
    _mm256_hadd_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_permute2x128_si256,
    _mm256_set1_epi16, _mm256_setzero_si256, _mm256_sub_epi16,
};

/// Whether this CPU runs AVX2 code.
#[inline(always)]
pub(crate) fn available() -> bool {
    #[cfg(target_feature = "avx2")]
    {
        true
    }
    #[cfg(all(not(target_feature = "avx2"), feature = "std"))]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(any(target_feature = "avx2", feature = "std")))]
    {
        false
    }
}

/// [`super::conv2d_i8`] with AVX2 where the CPU has it, the portable kernels otherwise;
/// lengths were checked by the caller.
pub(crate) fn conv2d_i8(
    g: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    if !available() {
        return fast::conv2d_i8::<Portable>(g, q, input, weights, bias, output);
    }
    // SAFETY: the CPU has AVX2, checked just above.
    unsafe { conv2d_i8_avx2(g, q, input, weights, bias, output) }
}

/// [`super::conv2d_i8`] with `VPDPBUSD` (AVX-VNNI, or AVX512-VNNI with AVX512-VL) for the
/// layers of the lane-parallel kernel where the CPU has it, the AVX2 paths otherwise; lengths
/// were checked by the caller.
pub(crate) fn conv2d_i8_vnni(
    g: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let zp = i8::try_from(q.input_zp).ok();
    match (Dims::of(g), zp, vnni::encoding()) {
        (Some(d), Some(zp), Some(encoding)) if tiles::takes(&d) && !d.is_depthwise() => {
            // SAFETY: the CPU runs `encoding`, as `vnni::encoding` found.
            unsafe { vnni::tiled_vnni(encoding, &d, q, zp, input, weights, bias, output) }
        }
        _ => conv2d_i8(g, q, input, weights, bias, output),
    }
}

/// The path for `g`, compiled with AVX2 so that the kernels' helpers inline.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn conv2d_i8_avx2(
    g: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let zp = i8::try_from(q.input_zp).ok();
    match (Dims::of(g), zp) {
        (Some(d), Some(zp)) if d.is_depthwise() && d.k_h * d.k_w <= MAX_TAPS => {
            // SAFETY: the caller guarantees AVX2.
            unsafe { depthwise::depthwise(&d, q, zp, input, weights, bias, output) }
        }
        (Some(d), Some(zp)) if tiles::takes(&d) => {
            // SAFETY: the caller guarantees AVX2.
            unsafe { tiled::tiled(&d, q, zp, input, weights, bias, output) }
        }
        (Some(d), Some(zp)) if d.filter_len() <= COLUMN => {
            // SAFETY: the caller guarantees AVX2.
            unsafe { gathered::gathered(&d, q, zp, input, weights, bias, output) }
        }
        _ => fast::conv2d_i8::<Avx2>(g, q, input, weights, bias, output),
    }
}

/// 16 int8 values of `s` from `at`, sign-extended to 16-bit lanes; values past the end of
/// `s` read as 0.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn widen16(s: &[i8], at: usize) -> __m256i {
    let bytes = match s.get(at..at.wrapping_add(16)) {
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
    };
    _mm256_cvtepi8_epi16(bytes)
}

/// The wrapping sum of the eight 32-bit lanes of `v`.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn hsum(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

/// `sum (x[i] - zp) * w[k][i]` over the common length of `x` and the rows, wrapping, for `N`
/// rows at once: each 16 values of `x` are widened (and centred) once for all rows.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) unsafe fn dot_rows<const N: usize>(x: &[i8], w: [&[i8]; N], zp: i8) -> [i32; N] {
    let len = w.iter().fold(x.len(), |len, row| len.min(row.len()));
    let x = x.get(..len).unwrap_or(&[]);
    let w = w.map(|row| row.get(..len).unwrap_or(&[]));
    let zp = _mm256_set1_epi16(i16::from(zp));
    let mut acc = [_mm256_setzero_si256(); N];
    for at in (0..len).step_by(16) {
        // Past `len`, `x` and the rows read as 0, so the products there are `(0 - zp) * 0`.
        // SAFETY: the caller guarantees AVX2.
        let xv = _mm256_sub_epi16(unsafe { widen16(x, at) }, zp);
        for k in 0..N {
            // SAFETY: the caller guarantees AVX2.
            let wv = unsafe { widen16(w[k], at) };
            acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(xv, wv));
        }
    }
    let mut out = [0i32; N];
    for k in 0..N {
        // SAFETY: the caller guarantees AVX2.
        out[k] = unsafe { hsum(acc[k]) };
    }
    out
}

/// Filters per pass of the gathered kernel.
const ROWS: usize = 8;

/// The eight sums of the lanes of `acc[0]`, ..., `acc[7]`, in order, as one vector.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn reduce8(acc: &[__m256i; ROWS]) -> __m256i {
    // Per 128-bit half: pairwise sums of rows (0, 1), (2, 3), ..., then of those.
    let h01 = _mm256_hadd_epi32(acc[0], acc[1]);
    let h23 = _mm256_hadd_epi32(acc[2], acc[3]);
    let h45 = _mm256_hadd_epi32(acc[4], acc[5]);
    let h67 = _mm256_hadd_epi32(acc[6], acc[7]);
    let h0123 = _mm256_hadd_epi32(h01, h23);
    let h4567 = _mm256_hadd_epi32(h45, h67);
    // Low halves hold rows 0-3 and 4-7 of the first 128 bits, high halves of the second.
    _mm256_add_epi32(
        _mm256_permute2x128_si256::<0x20>(h0123, h4567),
        _mm256_permute2x128_si256::<0x31>(h0123, h4567),
    )
}

/// Eight 32-bit values as a vector.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
pub(super) unsafe fn load8(v: &[i32; 8]) -> __m256i {
    // SAFETY: `v` is 32 readable bytes; the load has no alignment requirement.
    unsafe { _mm256_loadu_si256(v.as_ptr().cast()) }
}

/// Writes the first `out.len()` (at most eight) of `bytes` to `out`.
#[inline(always)]
pub(super) fn store8(out: &mut [i8], bytes: [i8; 8]) {
    for (o, v) in out.iter_mut().zip(bytes) {
        *o = v;
    }
}

/// The AVX2 dot products, for the portable loops of the paths without a kernel of their own.
/// Each one checks [`available`] (a constant, or a cached flag) and runs the portable code on
/// a CPU without AVX2.
pub(crate) struct Avx2;

impl Dot for Avx2 {
    type Scratch = ();
    type Rows<'a> = [&'a [i8]; 4];

    #[inline(always)]
    fn dot4(x: &[i8], w: [&[i8]; 4]) -> [i32; 4] {
        if !available() {
            return Portable::dot4(x, w);
        }
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { dot_rows(x, w, 0) }
    }

    #[inline(always)]
    fn prepare<'a>(w: [&'a [i8]; 4], _: &'a mut ()) -> [&'a [i8]; 4] {
        w
    }

    #[inline(always)]
    fn dot4_prepared(x: &[i8], rows: &[&[i8]; 4]) -> [i32; 4] {
        Self::dot4(x, *rows)
    }
}
