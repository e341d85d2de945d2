//! Scalar sparse kernels. They add the same products as the dense reference kernels, less the
//! zero ones, in the same int32 wrapping arithmetic, so the results are equal bit for bit.
//! Lengths were checked by `mod.rs`; an index past a slice contributes nothing.

use super::SparseWeights;
use crate::format::{ConvGeometry, bitmap_row_bytes};
use crate::kernels::chunks_mut;
use crate::kernels::conv::QuantOut;
use crate::kernels::fixedpoint::requantize;
use core::num::NonZeroUsize;

/// Row `row` of the bitmap and the index of its first value.
fn row<'a>(w: &SparseWeights<'a>, row: usize, row_bytes: usize) -> (&'a [u8], usize) {
    let bits = w
        .bitmap
        .get(row * row_bytes..(row + 1) * row_bytes)
        .unwrap_or(&[]);
    let start = w.offsets.get(row).map_or(0, |&o| o as usize);
    (bits, start)
}

fn bit(bits: &[u8], pos: usize) -> bool {
    bits.get(pos / 8).is_some_and(|b| (b >> (pos % 8)) & 1 != 0)
}

/// Direct NHWC convolution over the nonzero weights of each output channel.
pub fn conv2d_i8(
    g: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    w: &SparseWeights<'_>,
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let [batch, in_h, in_w, in_c] = [g.batch, g.in_h, g.in_w, g.in_c].map(|v| v as usize);
    let [out_h, out_w, out_c] = [g.out_h, g.out_w, g.out_c].map(|v| v as usize);
    let [k_h, k_w] = [g.kernel_h, g.kernel_w].map(|v| v as usize);
    let [s_h, s_w, d_h, d_w] =
        [g.stride_h, g.stride_w, g.dilation_h, g.dilation_w].map(|v| v as usize);
    let [pad_top, pad_left] = [g.pad_top, g.pad_left].map(|v| v as usize);
    let Some(groups) = NonZeroUsize::new(g.groups as usize) else {
        return;
    };
    let in_per_group = in_c / groups;
    let Some(out_per_group) = NonZeroUsize::new(out_c / groups) else {
        return;
    };
    let row_bytes = bitmap_row_bytes(k_h * k_w * in_per_group);

    for n in 0..batch {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let out_base = ((n * out_h + oy) * out_w + ox) * out_c;
                let Some(pixel) = output.get_mut(out_base..out_base + out_c) else {
                    return;
                };
                for (oc, out) in pixel.iter_mut().enumerate() {
                    let group = oc / out_per_group;
                    let (bits, mut value) = row(w, oc, row_bytes);
                    let mut acc = bias.and_then(|b| b.get(oc)).map_or(0, |&b| b);
                    let mut pos = 0;
                    for ky in 0..k_h {
                        let y = oy * s_h + ky * d_h;
                        let y_in = y >= pad_top && y - pad_top < in_h;
                        for kx in 0..k_w {
                            let x = ox * s_w + kx * d_w;
                            // Out of the input (padding): the values are skipped, not used.
                            let inside = y_in && x >= pad_left && x - pad_left < in_w;
                            let base = inside.then(|| {
                                ((n * in_h + y - pad_top) * in_w + x - pad_left) * in_c
                                    + group * in_per_group
                            });
                            for ic in 0..in_per_group {
                                if !bit(bits, pos + ic) {
                                    continue;
                                }
                                if let Some(base) = base
                                    && let (Some(&xv), Some(&wv)) =
                                        (input.get(base + ic), w.values.get(value))
                                {
                                    let term = (i32::from(xv) - q.input_zp) * i32::from(wv);
                                    acc = acc.wrapping_add(term);
                                }
                                value += 1;
                            }
                            pos += in_per_group;
                        }
                    }
                    *out = requantize(acc, q, oc);
                }
            }
        }
    }
}

/// Fully connected layer over the nonzero weights of each output feature.
pub fn dense_i8(
    in_features: usize,
    out_features: usize,
    q: &QuantOut<'_>,
    input: &[i8],
    w: &SparseWeights<'_>,
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let row_bytes = bitmap_row_bytes(in_features);
    for (r, y) in chunks_mut(output, out_features).enumerate() {
        let x = input
            .get(r * in_features..(r + 1) * in_features)
            .unwrap_or(&[]);
        for (o, out) in y.iter_mut().enumerate() {
            let (bits, mut value) = row(w, o, row_bytes);
            let mut acc = bias.and_then(|b| b.get(o)).map_or(0, |&b| b);
            for (byte_index, &byte) in bits.iter().enumerate() {
                let mut rest = byte;
                // One step per set bit, lowest first.
                while rest != 0 {
                    let pos = byte_index * 8 + rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    if let (Some(&xv), Some(&wv)) = (x.get(pos), w.values.get(value)) {
                        acc = acc.wrapping_add((i32::from(xv) - q.input_zp) * i32::from(wv));
                    }
                    value += 1;
                }
            }
            *out = requantize(acc, q, o);
        }
    }
}
