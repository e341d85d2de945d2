//! Scalar reference convolution: the specification. Every optimized variant must give the
//! same results (bit for bit for int8). These functions do not check lengths; they are
//! reached through `conv2d_i8_variant` with `Variant::Reference`, which does.

use crate::format::{Activation, ConvGeometry};
use core::num::NonZeroUsize;

/// Direct NHWC convolution, generic over the element and accumulator types: each output is
/// `finish(fold(start(oc), input, weights), oc)` over the in-bounds window positions (padding
/// contributes nothing). Lengths were checked by the caller; a read past them contributes
/// nothing (never, after the check) rather than panicking.
fn convolve<T: Copy, A: Copy>(
    g: &ConvGeometry,
    input: &[T],
    weights: &[T],
    output: &mut [T],
    start: impl Fn(usize) -> A,
    mac: impl Fn(A, T, T) -> A,
    finish: impl Fn(A, usize) -> T,
) {
    let [batch, in_h, in_w, in_c] = [g.batch, g.in_h, g.in_w, g.in_c].map(|v| v as usize);
    let [out_h, out_w, out_c] = [g.out_h, g.out_w, g.out_c].map(|v| v as usize);
    let [k_h, k_w] = [g.kernel_h, g.kernel_w].map(|v| v as usize);
    let [s_h, s_w, d_h, d_w] =
        [g.stride_h, g.stride_w, g.dilation_h, g.dilation_w].map(|v| v as usize);
    let [pad_top, pad_left] = [g.pad_top, g.pad_left].map(|v| v as usize);
    // The divisors are not zero once the caller checked the lengths.
    let Some(groups) = NonZeroUsize::new(g.groups as usize) else {
        return;
    };
    let in_per_group = in_c / groups;
    let Some(out_per_group) = NonZeroUsize::new(out_c / groups) else {
        return;
    };

    for n in 0..batch {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let out_base = ((n * out_h + oy) * out_w + ox) * out_c;
                let Some(pixel) = output.get_mut(out_base..out_base + out_c) else {
                    return;
                };
                for (oc, out) in pixel.iter_mut().enumerate() {
                    let group = oc / out_per_group;
                    let mut acc = start(oc);
                    for ky in 0..k_h {
                        let y = oy * s_h + ky * d_h;
                        if y < pad_top || y - pad_top >= in_h {
                            continue;
                        }
                        let iy = y - pad_top;
                        for kx in 0..k_w {
                            let x = ox * s_w + kx * d_w;
                            if x < pad_left || x - pad_left >= in_w {
                                continue;
                            }
                            let ix = x - pad_left;
                            let in_base =
                                ((n * in_h + iy) * in_w + ix) * in_c + group * in_per_group;
                            let w_base = ((oc * k_h + ky) * k_w + kx) * in_per_group;
                            let (Some(xs), Some(ws)) = (
                                input.get(in_base..in_base + in_per_group),
                                weights.get(w_base..w_base + in_per_group),
                            ) else {
                                continue;
                            };
                            for (&xv, &wv) in xs.iter().zip(ws) {
                                acc = mac(acc, xv, wv);
                            }
                        }
                    }
                    *out = finish(acc, oc);
                }
            }
        }
    }
}

/// float32: `act(bias + sum x * w)`.
pub fn conv2d_f32(
    g: &ConvGeometry,
    act: Activation,
    input: &[f32],
    weights: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let start = |oc: usize| bias.and_then(|b| b.get(oc)).map_or(0.0, |&b| b);
    convolve(
        g,
        input,
        weights,
        output,
        start,
        |acc, x, w| acc + x * w,
        |acc, _| act.apply(acc),
    );
}

/// int8: `requantize(bias + sum (x - input_zp) * w)`; the int32 accumulation wraps (two's
/// complement), as every int32 accumulator on every target does.
pub fn conv2d_i8(
    g: &ConvGeometry,
    q: &super::QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    use crate::kernels::fixedpoint::requantize;
    let start = |oc: usize| bias.and_then(|b| b.get(oc)).map_or(0, |&b| b);
    let mac = |acc: i32, x: i8, w: i8| acc.wrapping_add((i32::from(x) - q.input_zp) * i32::from(w));
    convolve(g, input, weights, output, start, mac, |acc, oc| {
        requantize(acc, q, oc)
    });
}
