//! The one-group path of the AVX2 packed float32 convolution: tiles of `P` adjacent output
//! pixels by `N` blocks of eight output channels, `P * N` independent sums (so that the
//! addition latency is hidden even for layers of one or two blocks), each weight vector loaded
//! once for the `P` pixels and each input broadcast once for the `N` blocks.
//!
//! Bit-exact with the reference: every sum, one pixel's eight channels, starts from the bias
//! (or `+0.0`) and adds `x * w` (rounded product, then rounded sum) over window rows, columns
//! and input channels in order, skipping the padding; interleaving independent sums does not
//! change any of them.

use super::super::blocked::{Dims, L};
use crate::format::Activation;
use core::arch::x86_64::{
    __m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_storeu_ps,
};

/// Output pixels per tile.
const PIXELS: usize = 2;
/// Blocks per tile, at most.
const BLOCKS: usize = 4;

/// The whole convolution, tile by tile.
///
/// # Safety
///
/// AVX2; one group; `input`, `weights` (packed) and `output` hold exactly the elements `d`
/// states.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn conv2d_f32(
    d: &Dims,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    for n in 0..d.batch {
        for oy in 0..d.out_h {
            for ox in (0..d.out_w).step_by(PIXELS) {
                let two = ox + 1 < d.out_w;
                for first in (0..d.blocks).step_by(BLOCKS) {
                    let t = Tile { n, oy, ox, first };
                    let io = (input, weights, bias, &mut *output);
                    // SAFETY: AVX2 and the lengths per the caller; the tile's pixels and blocks
                    // exist (`two` and the block count are checked here).
                    unsafe {
                        match (two, d.blocks - first) {
                            (true, 1) => tile::<2, 1>(d, act, t, io),
                            (true, 2) => tile::<2, 2>(d, act, t, io),
                            (true, 3) => tile::<2, 3>(d, act, t, io),
                            (true, _) => tile::<2, 4>(d, act, t, io),
                            (false, 1) => tile::<1, 1>(d, act, t, io),
                            (false, 2) => tile::<1, 2>(d, act, t, io),
                            (false, 3) => tile::<1, 3>(d, act, t, io),
                            (false, _) => tile::<1, 4>(d, act, t, io),
                        }
                    }
                }
            }
        }
    }
}

/// Where a tile is: batch, output row, first output column, first block.
#[derive(Clone, Copy)]
struct Tile {
    n: usize,
    oy: usize,
    ox: usize,
    first: usize,
}

type Io<'a, 'o> = (&'a [f32], &'a [f32], Option<&'a [f32]>, &'o mut [f32]);

/// # Safety
///
/// AVX2; pixels `ox..ox + P` and blocks `first..first + N` exist; lengths as for
/// [`conv2d_f32`].
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile<const P: usize, const N: usize>(
    d: &Dims,
    act: Activation,
    Tile { n, oy, ox, first }: Tile,
    (input, weights, bias, output): Io<'_, '_>,
) {
    let mut acc: [[__m256; N]; P] = core::array::from_fn(|_| {
        core::array::from_fn(|j| {
            let b = d.bias(bias, first + j);
            // SAFETY: `b` holds eight floats.
            unsafe { _mm256_loadu_ps(b.as_ptr()) }
        })
    });
    for ky in 0..d.k_h {
        let Some(iy) = d.row(oy, ky) else { continue };
        let row = (n * d.in_h + iy) * d.in_w;
        for kx in 0..d.k_w {
            let cols: [Option<usize>; P] = core::array::from_fn(|p| d.col(ox + p, kx));
            let tap = (ky * d.k_w + kx) * d.ipg * L;
            let w: [*const f32; N] = core::array::from_fn(|j| {
                weights
                    .as_ptr()
                    .wrapping_add((first + j) * d.block_len + tap)
            });
            let x = |ix: usize| input.as_ptr().wrapping_add((row + ix) * d.in_c);
            if cols.iter().all(Option::is_some) {
                let xs: [*const f32; P] = core::array::from_fn(|p| x(cols[p].unwrap_or(0)));
                for i in 0..d.ipg {
                    // SAFETY: `i < ipg == in_c`: the pixels' inputs and the blocks' tap
                    // weights are in bounds.
                    unsafe {
                        let xv: [__m256; P] =
                            core::array::from_fn(|p| _mm256_set1_ps(*xs[p].add(i)));
                        for j in 0..N {
                            let wv = _mm256_loadu_ps(w[j].add(i * L));
                            for p in 0..P {
                                acc[p][j] = _mm256_add_ps(acc[p][j], _mm256_mul_ps(xv[p], wv));
                            }
                        }
                    }
                }
            } else {
                // Some pixel of the tile is in the padding here: the others, one by one.
                for (p, col) in cols.iter().enumerate() {
                    let Some(ix) = *col else { continue };
                    let xp = x(ix);
                    for i in 0..d.ipg {
                        // SAFETY: as above.
                        unsafe {
                            let xv = _mm256_set1_ps(*xp.add(i));
                            for j in 0..N {
                                let wv = _mm256_loadu_ps(w[j].add(i * L));
                                acc[p][j] = _mm256_add_ps(acc[p][j], _mm256_mul_ps(xv, wv));
                            }
                        }
                    }
                }
            }
        }
    }
    for (p, sums) in acc.iter().enumerate() {
        let at = ((n * d.out_h + oy) * d.out_w + ox + p) * d.out_c;
        for (j, a) in sums.iter().enumerate() {
            let mut lanes = [0.0f32; L];
            // SAFETY: `lanes` holds eight floats.
            unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
            let oc = (first + j) * L;
            let end = (oc + L).min(d.out_c);
            if let Some(out) = output.get_mut(at + oc..at + end) {
                for (y, v) in out.iter_mut().zip(lanes) {
                    *y = act.apply(v);
                }
            }
        }
    }
}
