//! The driver shared by the lane-parallel one-group convolutions ([`tiled`](super::tiled) with
//! `VPMADDWD`, [`vnni`](super::vnni) with `VPDPBUSD`): output channels in the lanes, sixteen
//! per pass (two blocks of eight); the filters of as many passes as fit are arranged once on
//! the stack, the windows of [`PIXELS`] pixels are gathered once for all of them, and each
//! pass's accumulators are requantized eight channels at a time ([`Requant8`]).
//!
//! A [`TileKernel`] says how filters are arranged (a "step" is the run of consecutive filter
//! values one lane multiplies at once), how a window is gathered, and how a tile is multiplied.

use super::super::QuantOut;
use super::super::fast::{Dims, Taps};
use super::requant::Requant8;
use super::store8;
use core::arch::x86_64::{__m256i, _mm256_add_epi32};

/// Most filter values of a layer the lane-parallel kernels take: 3x3 windows of 64 channels,
/// 1x1 windows of 640.
pub(super) const MAX_VALUES: usize = 640;
/// Most passes that share a gathered tile.
const MAX_PASSES: usize = 16;
/// Pixels per tile: each weight vector loaded serves all of them.
pub(super) const PIXELS: usize = 4;
/// Output channels per lane block.
pub(super) const LANES: usize = 8;
/// Lane blocks per pass.
pub(super) const BLOCKS: usize = 2;

/// Whether the lane-parallel kernels take `d`: one group, at most [`MAX_VALUES`] filter values.
pub(super) fn takes(d: &Dims) -> bool {
    d.groups == 1 && d.filter_len() <= MAX_VALUES
}

/// One lane-parallel kernel: its weight arrangement, its gathering and its multiplication.
pub(super) trait TileKernel {
    /// Filter values one lane multiplies per step.
    const VALUES: usize;
    /// The arranged weights of one step for the two blocks of a pass.
    type Step: Copy;
    /// Room for the arranged steps of the passes held at once.
    type Arranged: AsRef<[Self::Step]> + AsMut<[Self::Step]>;
    /// One pixel's gathered window.
    type Column: Copy;

    /// Zeroed room for arranged steps.
    fn arranged() -> Self::Arranged;
    /// A zeroed column.
    fn column() -> Self::Column;
    /// Arranges the filters (`filter` values each) of channels `first..first + count` (at
    /// most two blocks) into `steps`; missing channels and values past a filter are 0.
    fn arrange(weights: &[i8], filter: usize, first: usize, count: usize, steps: &mut [Self::Step]);
    /// What the accumulators of the (at most eight) channels `channels` start from.
    fn start(
        q: &QuantOut<'_>,
        bias: Option<&[i32]>,
        weights: &[i8],
        filter: usize,
        channels: core::ops::Range<usize>,
    ) -> __m256i;
    /// Gathers the window of `pixel` into `column`, in the filter's order.
    ///
    /// # Safety
    ///
    /// The CPU must have every feature the kernel needs.
    unsafe fn gather(d: &Dims, pixel: Pixel, input: &[i8], zp: i8, column: &mut Self::Column);
    /// The sums of `steps` arranged steps of one pass times the columns of a tile: per pixel,
    /// the two blocks of eight channels.
    ///
    /// # Safety
    ///
    /// The CPU must have every feature the kernel needs.
    unsafe fn multiply(
        arranged: &[Self::Step],
        columns: &[Self::Column; PIXELS],
        steps: usize,
    ) -> [[__m256i; BLOCKS]; PIXELS];
}

/// A one-group convolution taken by [`takes`], with an int8 input zero point, computed by `K`.
/// Inlined into each kernel's entry point, so that it is compiled with that kernel's features.
///
/// # Safety
///
/// The CPU must have AVX2 and every feature `K` needs.
#[inline(always)]
pub(super) unsafe fn drive<K: TileKernel>(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let filter = d.filter_len();
    let steps = filter.div_ceil(K::VALUES);
    if !takes(d) || steps == 0 {
        return; // never: the caller checked `takes`, and `Dims` has no zero size
    }
    let pixels = d.batch * d.out_h * d.out_w;
    let pass_channels = BLOCKS * LANES;
    let mut arranged = K::arranged();
    let arranged = arranged.as_mut();
    // Passes whose arranged weights fit at once: each tile is gathered once for all of them.
    let passes_at_once = (arranged.len() / steps).clamp(1, MAX_PASSES);
    let mut columns = [K::column(); PIXELS];
    // What each block of the passes held starts from, and its requantization.
    // SAFETY: the caller guarantees AVX2.
    let none = unsafe { (K::start(q, None, &[], 0, 0..0), Requant8::new(q, 0, 0)) };
    let mut finish = [[none; BLOCKS]; MAX_PASSES];
    for chunk in (0..d.out_c).step_by(pass_channels * passes_at_once) {
        let chunk_end = d.out_c.min(chunk + pass_channels * passes_at_once);
        for (pass, first) in (chunk..chunk_end).step_by(pass_channels).enumerate() {
            let count = (chunk_end - first).min(pass_channels);
            let held = arranged.chunks_mut(steps).nth(pass).unwrap_or(&mut []);
            K::arrange(weights, filter, first, count, held);
            if let Some(finish) = finish.get_mut(pass) {
                for (b, f) in finish.iter_mut().enumerate() {
                    let channel = first + b * LANES;
                    let channels = channel..(first + count).min(channel + LANES).max(channel);
                    // SAFETY: the caller guarantees AVX2.
                    *f = unsafe {
                        (
                            K::start(q, bias, weights, filter, channels),
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
                // SAFETY: the caller guarantees the kernel's features.
                unsafe { K::gather(d, pixel, input, zp, column) };
                pixel = pixel.next(d);
            }
            let held = arranged.chunks(steps).zip(&finish);
            for (first, (held, finish)) in (chunk..chunk_end).step_by(pass_channels).zip(held) {
                let count = (chunk_end - first).min(pass_channels);
                // SAFETY: the caller guarantees the kernel's features.
                let acc = unsafe { K::multiply(held, &columns, steps) };
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

/// Pixel `(n, oy, ox)` of the output, stepped in memory order.
#[derive(Clone, Copy)]
pub(super) struct Pixel {
    n: usize,
    oy: usize,
    ox: usize,
}

impl Pixel {
    /// The first pixel of the output.
    const FIRST: Pixel = Pixel { n: 0, oy: 0, ox: 0 };

    /// The pixel after this one.
    fn next(self, d: &Dims) -> Self {
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
