//! The depthwise path (one filter per channel) of the AVX2 packed float32 convolution: tiles
//! of `P` adjacent output pixels by `N` blocks of eight channels, `P * N` independent sums (a
//! layer of one block still has four), lane `l` of block `b` reading input channel `8b + l`
//! (one vector load). Bit-exact with the reference for the reasons given in
//! [`super::blocked_tile`].

use super::super::blocked::{Dims, L};
use crate::format::Activation;
use core::arch::x86_64::{__m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_storeu_ps};

/// Output pixels per tile, at most.
const PIXELS: usize = 4;
/// Blocks per tile, at most.
const BLOCKS: usize = 2;

/// The whole convolution, tile by tile.
///
/// # Safety
///
/// AVX2; one input and one output channel per group; `input`, `weights` (packed) and `output`
/// hold exactly the elements `d` states.
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
            let mut ox = 0;
            while ox < d.out_w {
                let four = ox + PIXELS <= d.out_w;
                for first in (0..d.blocks).step_by(BLOCKS) {
                    let t = (n, oy, ox, first);
                    let io = (input, weights, bias, &mut *output);
                    // SAFETY: AVX2 and the lengths per the caller; the tile's pixels and blocks
                    // exist (checked here).
                    unsafe {
                        match (four, d.blocks - first) {
                            (true, 1) => tile::<4, 1>(d, act, t, io),
                            (true, _) => tile::<4, 2>(d, act, t, io),
                            (false, 1) => tile::<1, 1>(d, act, t, io),
                            (false, _) => tile::<1, 2>(d, act, t, io),
                        }
                    }
                }
                ox += if four { PIXELS } else { 1 };
            }
        }
    }
}

type Io<'a, 'o> = (&'a [f32], &'a [f32], Option<&'a [f32]>, &'o mut [f32]);

/// Eight channels of one input pixel starting at channel `c`; zeros past the last channel.
///
/// # Safety
///
/// AVX2; channels `..min(c + 8, in_c)` of the pixel at `pix` are in `input`.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn channels(d: &Dims, input: &[f32], pix: usize, c: usize) -> __m256 {
    if c + L <= d.in_c {
        // SAFETY: in bounds by the contract.
        unsafe { _mm256_loadu_ps(input.as_ptr().add(pix + c)) }
    } else {
        let mut x = [0.0f32; L];
        if let Some(xs) = input.get(pix + c..pix + d.in_c) {
            crate::kernels::copy(&mut x, xs);
        }
        // SAFETY: `x` holds eight floats.
        unsafe { _mm256_loadu_ps(x.as_ptr()) }
    }
}

/// # Safety
///
/// AVX2; pixels `ox..ox + P` and blocks `first..first + N` exist; lengths as for
/// [`conv2d_f32`].
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn tile<const P: usize, const N: usize>(
    d: &Dims,
    act: Activation,
    (n, oy, ox, first): (usize, usize, usize, usize),
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
            let tap = (ky * d.k_w + kx) * L;
            // SAFETY: each block's tap of eight weights is in `weights` (`first + j < blocks`).
            let w: [__m256; N] = core::array::from_fn(|j| unsafe {
                _mm256_loadu_ps(weights.as_ptr().add((first + j) * d.block_len + tap))
            });
            for (p, sums) in acc.iter_mut().enumerate() {
                let Some(ix) = d.col(ox + p, kx) else {
                    continue;
                };
                let pix = (row + ix) * d.in_c;
                for (j, a) in sums.iter_mut().enumerate() {
                    // SAFETY: `iy < in_h`, `ix < in_w`: the pixel's channels are in `input`.
                    unsafe {
                        let x = channels(d, input, pix, (first + j) * L);
                        *a = _mm256_add_ps(*a, _mm256_mul_ps(x, w[j]));
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
