//! Float32 convolution over [`Blocked8`](crate::format::WeightLayout::Blocked8) weights with
//! x86_64 AVX2, bit-exact with the reference: one 256-bit vector holds eight output channels,
//! each lane accumulating in the reference's order with `VMULPS` then `VADDPS` (two roundings,
//! never `VFMADD`, which rounds once and so differs in the last bit).
//!
//! Paths: one group (every lane reads the same input channel, broadcast; tiles of pixels and
//! blocks in [`super::blocked_tile`]) and depthwise with one output channel per input channel
//! (lane `l` reads input channel `l`: a vector load; four blocks at a time, here) have AVX2
//! loops; other groupings run the portable packed kernel.

use super::super::blocked::{self, Dims, L};
use super::available;
use crate::format::Activation;
use core::arch::x86_64::{__m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_storeu_ps};

/// Blocks computed together.
const QUAD: usize = 4;

/// [`super::super::conv2d_f32_blocked`] with AVX2 where the CPU has it, the portable packed
/// kernel otherwise; lengths were checked by the caller.
pub(crate) fn conv2d_f32(
    d: &Dims,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let fits = d.packed_len() == Some(weights.len())
        && [d.batch, d.in_h, d.in_w, d.in_c]
            .iter()
            .try_fold(1usize, |a, &v| a.checked_mul(v))
            == Some(input.len())
        && [d.batch, d.out_h, d.out_w, d.out_c]
            .iter()
            .try_fold(1usize, |a, &v| a.checked_mul(v))
            == Some(output.len());
    let one_group = d.ipg == d.in_c;
    let depthwise = d.ipg == 1 && d.opg.get() == 1;
    if available() && fits && d.blocks > 0 && one_group {
        // SAFETY: the CPU has AVX2 (checked above), and the slice lengths match `d` exactly.
        unsafe { super::blocked_tile::conv2d_f32(d, act, input, weights, bias, output) }
    } else if available() && fits && d.blocks > 0 && depthwise {
        // SAFETY: as above.
        unsafe { depthwise_f32(d, act, input, weights, bias, output) }
    } else {
        blocked::conv2d_f32(d, act, input, weights, bias, output);
    }
}

/// Depthwise, one filter per channel.
///
/// # Safety
///
/// The CPU must have AVX2; `input`, `weights` and `output` hold exactly the elements `d`
/// states (`weights` packed), `d.blocks > 0`, and one input and one output channel per group.
#[target_feature(enable = "avx2")]
unsafe fn depthwise_f32(
    d: &Dims,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    for n in 0..d.batch {
        for oy in 0..d.out_h {
            for ox in 0..d.out_w {
                let at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c;
                for first in (0..d.blocks).step_by(QUAD) {
                    // Blocks past the last repeat it; their sums are not stored.
                    let ids: [usize; QUAD] =
                        core::array::from_fn(|j| (first + j).min(d.blocks - 1));
                    let mut acc: [__m256; QUAD] = core::array::from_fn(|j| {
                        let b = d.bias(bias, ids[j]);
                        // SAFETY: `b` holds eight floats.
                        unsafe { _mm256_loadu_ps(b.as_ptr()) }
                    });
                    for ky in 0..d.k_h {
                        let Some(iy) = d.row(oy, ky) else { continue };
                        for kx in 0..d.k_w {
                            let Some(ix) = d.col(ox, kx) else { continue };
                            let pix = ((n * d.in_h + iy) * d.in_w + ix) * d.in_c;
                            let tap = (ky * d.k_w + kx) * d.ipg * L;
                            // SAFETY: `iy < in_h` and `ix < in_w`, so the pixel's `in_c`
                            // inputs lie in `input`; each block's tap of `ipg * L` weights lies
                            // in `weights` (`ids[j] < blocks`, `tap + ipg * L <= block_len`).
                            unsafe { depthwise_tap(d, input, pix, weights, tap, &ids, &mut acc) }
                        }
                    }
                    for (j, a) in acc.iter().enumerate() {
                        let oc = (first + j) * L;
                        if first + j >= d.blocks {
                            break;
                        }
                        let mut lanes = [0.0f32; L];
                        // SAFETY: `lanes` holds eight floats.
                        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), *a) };
                        let end = (oc + L).min(d.out_c);
                        if let Some(out) = output.get_mut(at + oc..at + end) {
                            for (y, v) in out.iter_mut().zip(lanes) {
                                *y = act.apply(v);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One window position, depthwise: lane `l` of block `b` reads input channel `b * 8 + l`.
///
/// # Safety
///
/// AVX2; `input[pix..pix + in_c]` and every `weights[ids[j] * block_len + tap..][..L]` are in
/// bounds.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn depthwise_tap(
    d: &Dims,
    input: &[f32],
    pix: usize,
    weights: &[f32],
    tap: usize,
    ids: &[usize; QUAD],
    acc: &mut [__m256; QUAD],
) {
    for j in 0..QUAD {
        let c = ids[j] * L;
        let xv = if c + L <= d.in_c {
            // SAFETY: channels `c..c + 8` of the pixel are in bounds by the caller's contract.
            unsafe { _mm256_loadu_ps(input.as_ptr().add(pix + c)) }
        } else {
            // The last block reaches past the pixel's channels: copy what there is.
            let mut x = [0.0f32; L];
            if let Some(xs) = input.get(pix + c..pix + d.in_c) {
                crate::kernels::copy(&mut x, xs);
            }
            // SAFETY: `x` holds eight floats.
            unsafe { _mm256_loadu_ps(x.as_ptr()) }
        };
        // SAFETY: the block's tap is in bounds by the caller's contract.
        unsafe {
            let wv = _mm256_loadu_ps(weights.as_ptr().add(ids[j] * d.block_len + tap));
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(xv, wv));
        }
    }
}
