//! Depthwise convolutions: one filter per input channel.
//!
//! Four channels at a time, each window's taps inside the input run as one table of
//! `(offset from the window's first such tap, weights widened once)` through
//! [`Dot::mac_window`]. The table depends only on which taps of the window lie inside the
//! input, so the output is visited in rectangles whose windows all have the same such taps
//! (the interior, each edge, each corner): one table per rectangle, each window's position
//! following from the strides. The taps in the padding read the zero point, whose products
//! (those of every tap, computed once per block of channels, less those of the taps inside,
//! computed with the table) are added to the accumulators' start (`bias - zp * sum w`), which
//! cancels them, exactly as the reference skips those taps. A variant may run a whole
//! rectangle in one loop ([`Dot::mac_rectangle`]); otherwise its windows run one by one.

use super::super::QuantOut;
use super::super::dot::{Dot, Rectangle, Tap, widen};
use super::{Dims, MAX_TAPS, Rows, Taps, add4, offsets_of, run, store, sub4};
use crate::kernels::fixedpoint::Requant4;

/// A depthwise convolution with at most [`MAX_TAPS`] taps and an int8 input zero point.
// Not inlined: each path keeps its own stack frame (see `conv2d_i8`).
#[inline(never)]
pub(super) fn depthwise<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let taps = d.k_h * d.k_w;
    if taps == 0 || taps > MAX_TAPS {
        return; // never: the caller checked
    }
    let padding = u32::from_le_bytes([zp as u8; 4]);
    let mut lanes = [[0u32; 2]; MAX_TAPS];
    let lanes = lanes.get_mut(..taps).unwrap_or(&mut []);
    let mut table = [Tap::default(); MAX_TAPS];
    let rows_at = |o| Taps::at(o, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
    let columns_at = |o| Taps::at(o, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
    for first in (0..d.in_c).step_by(4) {
        let count = (d.in_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let filters = channels.map(|c| run(weights, c * taps, taps));
        for (t, l) in lanes.iter_mut().enumerate() {
            *l = widen(filters.map(|f| f.get(t).copied().unwrap_or(0)));
        }
        let start = offsets_of::<D, _>(q, bias, channels, &Rows { weights, len: taps });
        // What every tap read as the zero point adds: a window's taps in the padding add this
        // minus what its taps inside the input would.
        let padded = lanes
            .iter()
            .fold([0; 4], |acc, &w| D::mac_lanes(acc, padding, w));
        let requants = Requant4::new(q, channels);
        for n in 0..d.batch {
            let mut rows = Run::from(0, d.out_h, rows_at);
            while let Some(ys) = rows {
                let mut columns = Run::from(0, d.out_w, columns_at);
                while let Some(xs) = columns {
                    // One table for the whole rectangle of windows: its taps inside the input.
                    let (mut used, mut reach, mut inside_padded) = (0, 0, [0; 4]);
                    let (row_step, column_step) = (d.d_h * d.in_w * d.in_c, d.d_w * d.in_c);
                    for ky in ys.taps.lo..ys.taps.hi {
                        let row = (ky - ys.taps.lo) * row_step;
                        for kx in xs.taps.lo..xs.taps.hi {
                            let w = lanes.get(ky * d.k_w + kx).copied().unwrap_or_default();
                            inside_padded = D::mac_lanes(inside_padded, padding, w);
                            let offset = row + (kx - xs.taps.lo) * column_step;
                            if let Some(tap) = table.get_mut(used) {
                                *tap = Tap { offset, lanes: w };
                                used += 1;
                                reach = reach.max(offset);
                            }
                        }
                    }
                    let window_start = sub4(add4(start, padded), inside_padded);
                    let inside = table.get(..used).unwrap_or(&[]);
                    let (rows, cols) = (ys.outs.len(), xs.outs.len());
                    let rect = Rectangle {
                        rows,
                        cols,
                        base: (n * d.in_h)
                            .wrapping_add(ys.taps.first)
                            .wrapping_mul(d.in_w)
                            .wrapping_add(xs.taps.first)
                            .wrapping_mul(d.in_c)
                            .wrapping_add(first),
                        step: d.s_w.wrapping_mul(d.in_c),
                        row_pitch: d.s_h.wrapping_mul(d.in_w).wrapping_mul(d.in_c),
                        out: ((n * d.out_h + ys.outs.start) * d.out_w + xs.outs.start) * d.out_c
                            + first,
                        out_step: d.out_c,
                        out_row_pitch: d.out_w * d.out_c,
                    };
                    let whole = count == 4
                        && D::mac_rectangle(
                            window_start,
                            input,
                            reach,
                            inside,
                            &rect,
                            &requants,
                            output,
                        );
                    // Window by window, unless the variant ran the whole rectangle.
                    for oy in ys.outs.clone().filter(|_| !whole) {
                        // Within a run the first tap inside moves by the stride.
                        let iy = ys.taps.first.wrapping_add((oy - ys.outs.start) * d.s_h);
                        let row = (n * d.in_h).wrapping_add(iy).wrapping_mul(d.in_w);
                        for ox in xs.outs.clone() {
                            let ix = xs.taps.first.wrapping_add((ox - xs.outs.start) * d.s_w);
                            let base = row
                                .wrapping_add(ix)
                                .wrapping_mul(d.in_c)
                                .wrapping_add(first);
                            let acc = D::mac_window(window_start, input, base, reach, inside);
                            let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c + first;
                            store(output, out_at, count, acc, &requants);
                        }
                    }
                    columns = Run::from(xs.outs.end, d.out_w, columns_at);
                }
                rows = Run::from(ys.outs.end, d.out_h, rows_at);
            }
        }
    }
}

/// A run of consecutive output positions along one axis whose windows have the same taps
/// inside the input.
struct Run {
    /// The output positions.
    outs: core::ops::Range<usize>,
    /// The taps of the run's first position.
    taps: Taps,
}

impl Run {
    /// The run from output position `from` (of `len`), `taps_at` giving each position's taps.
    fn from(from: usize, len: usize, taps_at: impl Fn(usize) -> Taps) -> Option<Self> {
        if from >= len {
            return None;
        }
        let taps = taps_at(from);
        let mut end = from + 1;
        while end < len && {
            let next = taps_at(end);
            (next.lo, next.hi) == (taps.lo, taps.hi)
        } {
            end += 1;
        }
        Some(Self {
            outs: from..end,
            taps,
        })
    }
}
