//! Depthwise convolutions: one filter per input channel.

use super::super::QuantOut;
use super::super::dot::{Dot, SortedOffsets, load4, widen};
use super::{Dims, MAX_TAPS, Taps, offsets_of, run, store};
use crate::kernels::chunks;
use crate::kernels::fixedpoint::ChannelRequant;

/// Depthwise (one filter per input channel): four channels at a time, their weights widened
/// once into 16-bit lanes, against every pixel; taps in the padding read the zero point.
// Not inlined: each path keeps its own stack frame (see `conv2d_i8`), and a variant with a
// depthwise kernel of its own calls this only for windows that kernel does not take.
#[inline(never)]
pub(in crate::kernels::conv) fn depthwise<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let taps = d.k_h * d.k_w;
    let padding = u32::from_le_bytes([zp as u8; 4]);
    let mut lanes = [[0u32; 2]; MAX_TAPS];
    let lanes = lanes.get_mut(..taps).unwrap_or(&mut []);
    // Where each tap reads, relative to the window's first tap, for windows inside the input.
    let mut offsets = [0usize; MAX_TAPS];
    let offsets = offsets.get_mut(..taps).unwrap_or(&mut []);
    let taps_yx = (0..d.k_h).flat_map(|ky| (0..d.k_w).map(move |kx| (ky, kx)));
    for (offset, (ky, kx)) in offsets.iter_mut().zip(taps_yx) {
        *offset = (ky * d.d_h * d.in_w + kx * d.d_w) * d.in_c;
    }
    // Sorted whenever the window fits in the input, as it does for the windows read at once.
    let sorted = SortedOffsets::new(offsets);
    for first in (0..d.in_c).step_by(4) {
        let count = (d.in_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let filters = channels.map(|c| run(weights, c * taps, taps));
        for (t, l) in lanes.iter_mut().enumerate() {
            *l = widen(filters.map(|f| f.get(t).copied().unwrap_or(0)));
        }
        let start = offsets_of::<D>(q, bias, channels, filters);
        let requants = channels.map(|c| ChannelRequant::new(q, c));
        for n in 0..d.batch {
            for oy in 0..d.out_h {
                let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                for ox in 0..d.out_w {
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let pixel =
                        |iy: usize, ix: usize| ((n * d.in_h + iy) * d.in_w + ix) * d.in_c + first;
                    let inside = (ys.lo, ys.hi, xs.lo, xs.hi) == (0, d.k_h, 0, d.k_w);
                    let acc = if let (true, Some(sorted)) = (inside, sorted) {
                        D::mac_taps(start, input, pixel(ys.first, xs.first), sorted, lanes)
                    } else if let Some(sorted) = sorted {
                        // Row by row: the taps inside the input as one run, those in the
                        // padding read the zero point.
                        let mut acc = start;
                        let inside_taps = sorted.prefix(xs.hi - xs.lo);
                        for (ky, row) in chunks(lanes, d.k_w).enumerate() {
                            let (before, rest) = row.split_at_checked(xs.lo).unwrap_or_default();
                            let (within, after) =
                                rest.split_at_checked(xs.hi - xs.lo).unwrap_or_default();
                            if (ys.lo..ys.hi).contains(&ky) {
                                let iy = ys.first + (ky - ys.lo) * d.d_h;
                                for &w in before {
                                    acc = D::mac_lanes(acc, padding, w);
                                }
                                let at = pixel(iy, xs.first);
                                acc = D::mac_taps(acc, input, at, inside_taps, within);
                                for &w in after {
                                    acc = D::mac_lanes(acc, padding, w);
                                }
                            } else {
                                for &w in row {
                                    acc = D::mac_lanes(acc, padding, w);
                                }
                            }
                        }
                        acc
                    } else {
                        // Taps in the padding read the zero point.
                        let mut acc = start;
                        for (ky, row) in chunks(lanes, d.k_w).enumerate() {
                            for (kx, &w) in row.iter().enumerate() {
                                let inside =
                                    (ys.lo..ys.hi).contains(&ky) && (xs.lo..xs.hi).contains(&kx);
                                let x = if inside {
                                    let iy = ys.first + (ky - ys.lo) * d.d_h;
                                    let ix = xs.first + (kx - xs.lo) * d.d_w;
                                    load4(input, pixel(iy, ix))
                                } else {
                                    padding
                                };
                                acc = D::mac_lanes(acc, x, w);
                            }
                        }
                        acc
                    };
                    let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c + first;
                    store(output, out_at, count, acc, &requants);
                }
            }
        }
    }
}
