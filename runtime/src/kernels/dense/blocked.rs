//! Float32 fully connected layer over weights packed in blocks of eight output features
//! ([`WeightLayout::Blocked8`](crate::format::WeightLayout::Blocked8),
//! `[ceil(out / 8)][in][8]`): the packing, and the portable kernel. Bit-exact with the
//! reference: each lane is one output feature, starting from its bias (or `+0.0`) and adding
//! `x[i] * w[i]` for `i` in order, a rounded multiply then a rounded add, never fused.

use crate::format::{Activation, WEIGHT_BLOCK};

/// Lanes per block.
pub(crate) const L: usize = WEIGHT_BLOCK;

/// The biases of block `b` (`+0.0` without a bias and past the last feature).
#[inline(always)]
pub(crate) fn block_bias(bias: Option<&[f32]>, b: usize) -> [f32; L] {
    let mut out = [0.0; L];
    for (l, v) in out.iter_mut().enumerate() {
        *v = bias.and_then(|s| s.get(b * L + l)).map_or(0.0, |&x| x);
    }
    out
}

/// Packs `[out][in]` weights into `packed` (`[ceil(out / 8)][in][8]`, unused lanes `0.0`);
/// lengths were checked by the caller.
pub(crate) fn pack(in_features: usize, out_features: usize, weights: &[f32], packed: &mut [f32]) {
    for (at, v) in packed.iter_mut().enumerate() {
        let (b, i, l) = (
            at / L / in_features.max(1),
            at / L % in_features.max(1),
            at % L,
        );
        let o = b * L + l;
        *v = if o < out_features {
            weights.get(o * in_features + i).map_or(0.0, |&w| w)
        } else {
            0.0
        };
    }
}

/// The portable packed kernel; lengths were checked by the caller (a read past them
/// contributes nothing, a write past them is skipped).
pub(crate) fn dense_f32(
    in_features: usize,
    out_features: usize,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let block_len = in_features * L;
    for (r, y) in output.chunks_mut(out_features.max(1)).enumerate() {
        let x = input
            .get(r * in_features..(r + 1) * in_features)
            .unwrap_or(&[]);
        for (b, out) in y.chunks_mut(L).enumerate() {
            let w = weights
                .get(b * block_len..(b + 1) * block_len)
                .unwrap_or(&[]);
            let mut acc = block_bias(bias, b);
            for (&xv, lanes) in x.iter().zip(w.chunks_exact(L)) {
                for (a, &wv) in acc.iter_mut().zip(lanes) {
                    *a += xv * wv;
                }
            }
            for (o, a) in out.iter_mut().zip(acc) {
                *o = act.apply(a);
            }
        }
    }
}
