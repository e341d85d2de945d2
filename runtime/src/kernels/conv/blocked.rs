//! Float32 convolution over weights packed in blocks of eight output channels
//! ([`WeightLayout::Blocked8`](crate::format::WeightLayout::Blocked8)): the packing, and the
//! portable kernel (the one a CPU without AVX2 runs).
//!
//! Bit-exact with the reference: each lane is one output channel and accumulates in the
//! reference's order (the bias or `+0.0`, then window rows, columns and input channels in
//! order, padding positions skipped), one rounded multiply then one rounded add per step,
//! never a fused multiply-add; the activation is applied last, lane by lane.

use crate::format::{Activation, ConvGeometry, WEIGHT_BLOCK};
use core::num::NonZeroUsize;

/// Lanes per block.
pub(crate) const L: usize = WEIGHT_BLOCK;

/// The geometry in `usize`, with the derived sizes the packed kernels index by.
#[derive(Clone, Copy)]
pub(crate) struct Dims {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub out_c: usize,
    pub k_h: usize,
    pub k_w: usize,
    s_h: usize,
    s_w: usize,
    d_h: usize,
    d_w: usize,
    pad_top: usize,
    pad_left: usize,
    /// Input channels per group (the weights of one output channel per window position).
    pub ipg: usize,
    /// Output channels per group.
    pub opg: NonZeroUsize,
    /// Blocks of [`L`] output channels.
    pub blocks: usize,
    /// Elements of one packed block: `k_h * k_w * ipg * L`.
    pub block_len: usize,
}

impl Dims {
    /// `None` when the groups do not divide the channels (refused by the length check).
    pub fn new(g: &ConvGeometry) -> Option<Self> {
        let [batch, in_h, in_w, in_c] = [g.batch, g.in_h, g.in_w, g.in_c].map(|v| v as usize);
        let [out_h, out_w, out_c] = [g.out_h, g.out_w, g.out_c].map(|v| v as usize);
        let [k_h, k_w, groups] = [g.kernel_h, g.kernel_w, g.groups].map(|v| v as usize);
        let ipg = in_c.checked_div(groups)?;
        let opg = NonZeroUsize::new(out_c.checked_div(groups)?)?;
        let block_len = k_h.checked_mul(k_w)?.checked_mul(ipg)?.checked_mul(L)?;
        Some(Dims {
            batch,
            in_h,
            in_w,
            in_c,
            out_h,
            out_w,
            out_c,
            k_h,
            k_w,
            s_h: g.stride_h as usize,
            s_w: g.stride_w as usize,
            d_h: g.dilation_h as usize,
            d_w: g.dilation_w as usize,
            pad_top: g.pad_top as usize,
            pad_left: g.pad_left as usize,
            ipg,
            opg,
            blocks: out_c.div_ceil(L),
            block_len,
        })
    }

    /// Packed elements: `blocks * block_len`.
    pub fn packed_len(&self) -> Option<usize> {
        self.blocks.checked_mul(self.block_len)
    }

    /// Input row of output row `oy` and kernel row `ky`; `None` in the padding.
    #[inline(always)]
    pub fn row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.s_h + ky * self.d_h)
            .checked_sub(self.pad_top)
            .filter(|&y| y < self.in_h)
    }

    /// Input column of output column `ox` and kernel column `kx`; `None` in the padding.
    #[inline(always)]
    pub fn col(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.s_w + kx * self.d_w)
            .checked_sub(self.pad_left)
            .filter(|&x| x < self.in_w)
    }

    /// The biases of block `b` (`+0.0` without a bias and past the last channel).
    #[inline(always)]
    pub fn bias(&self, bias: Option<&[f32]>, b: usize) -> [f32; L] {
        let mut out = [0.0; L];
        for (l, v) in out.iter_mut().enumerate() {
            *v = bias.and_then(|s| s.get(b * L + l)).map_or(0.0, |&x| x);
        }
        out
    }
}

/// Packs reference weights `[out_c][k_h][k_w][in_c / groups]` into `packed`
/// (`[ceil(out_c / 8)][k_h][k_w][in_c / groups][8]`, unused lanes `0.0`). Lengths were checked
/// by the caller.
pub(crate) fn pack(d: &Dims, weights: &[f32], packed: &mut [f32]) {
    let per_channel = d.k_h * d.k_w * d.ipg;
    for (b, block) in packed.chunks_mut(d.block_len.max(1)).enumerate() {
        for (t, lanes) in block.chunks_mut(L).enumerate() {
            for (l, v) in lanes.iter_mut().enumerate() {
                let oc = b * L + l;
                *v = if oc < d.out_c {
                    weights.get(oc * per_channel + t).map_or(0.0, |&w| w)
                } else {
                    0.0
                };
            }
        }
    }
}

/// The portable packed kernel; lengths were checked by the caller (a read past them
/// contributes nothing, a write past them is skipped).
pub(crate) fn conv2d_f32(
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
                let Some(pixel) = output.get_mut(at..at + d.out_c) else {
                    return;
                };
                pixel_blocks(d, act, (n, oy, ox), input, weights, bias, pixel);
            }
        }
    }
}

/// One output pixel, block by block.
#[inline(always)]
fn pixel_blocks(
    d: &Dims,
    act: Activation,
    (n, oy, ox): (usize, usize, usize),
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    pixel: &mut [f32],
) {
    for (b, out) in pixel.chunks_mut(L).enumerate() {
        let Some(block) = weights.get(b * d.block_len..(b + 1) * d.block_len) else {
            return;
        };
        // Each lane's input channel offset: its group's first channel.
        let mut group_base = [0usize; L];
        for (l, base) in group_base.iter_mut().enumerate() {
            *base = (b * L + l) / d.opg * d.ipg;
        }
        let mut acc = d.bias(bias, b);
        for ky in 0..d.k_h {
            let Some(iy) = d.row(oy, ky) else { continue };
            for kx in 0..d.k_w {
                let Some(ix) = d.col(ox, kx) else { continue };
                let at = ((n * d.in_h + iy) * d.in_w + ix) * d.in_c;
                let tap = (ky * d.k_w + kx) * d.ipg * L;
                for i in 0..d.ipg {
                    let Some(w) = block.get(tap + i * L..tap + (i + 1) * L) else {
                        return;
                    };
                    for ((a, &wv), &base) in acc.iter_mut().zip(w).zip(&group_base) {
                        let x = input.get(at + base + i).map_or(0.0, |&x| x);
                        *a += x * wv;
                    }
                }
            }
        }
        for (y, a) in out.iter_mut().zip(acc) {
            *y = act.apply(a);
        }
    }
}
