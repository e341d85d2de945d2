//! Convolutions over gathered windows with AVX2 (any geometry and grouping whose filter fits
//! the column buffer): each pixel's window is gathered into a column (the padding as the
//! zero point) and widened to 16-bit lanes once, then eight filters at a time are widened on
//! the fly against it. The weight sums and requantizations of up to [`CHANNELS`] output
//! channels are prepared once, so that a layer with at most that many is gathered once per
//! pixel.

use super::super::QuantOut;
use super::super::fast::{COLUMN, Dims, Taps, Window, bias_of, run};
use super::requant::Requant8;
use super::{Avx2, ROWS, load8, reduce8, store8, widen16};
use crate::kernels::conv::dot::Dot;
use core::arch::x86_64::{_mm256_add_epi32, _mm256_madd_epi16, _mm256_setzero_si256};

/// Output channels prepared at once (and per gathered column).
const CHANNELS: usize = 64;
/// 16-value vectors of the longest column.
const VECS: usize = COLUMN / 16;

/// Any geometry whose filter fits [`COLUMN`], with an int8 input zero point.
///
/// # Safety
///
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn gathered(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let filter = d.filter_len();
    let vecs = filter.div_ceil(16).min(VECS);
    let mut column = [0i8; COLUMN];
    let column = column.get_mut(..filter).unwrap_or(&mut []);
    let mut widened = [_mm256_setzero_si256(); VECS];
    let widened = widened.get_mut(..vecs).unwrap_or(&mut []);
    for block in (0..d.out_c).step_by(CHANNELS) {
        let block_end = (block + CHANNELS).min(d.out_c);
        let mut start = [0i32; CHANNELS];
        for c in block..block_end {
            let zp_term = q
                .input_zp
                .wrapping_mul(Avx2::sum(run(weights, c * filter, filter)));
            start[c - block] = bias_of(bias, c).wrapping_sub(zp_term);
        }
        for n in 0..d.batch {
            for oy in 0..d.out_h {
                let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                for ox in 0..d.out_w {
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c;
                    let mut gathered_group = None;
                    let mut first = block;
                    while first < block_end {
                        let group = first / d.out_per_group;
                        let group_end = (group + 1) * d.out_per_group;
                        let count = block_end.min(group_end).min(first + ROWS) - first;
                        if gathered_group != Some(group) {
                            Window { d, n, ys, xs }.gather(input, group, zp, column);
                            for (v, slot) in widened.iter_mut().enumerate() {
                                // SAFETY: the caller guarantees AVX2. Past the filter the
                                // column reads as 0.
                                *slot = unsafe { widen16(column, 16 * v) };
                            }
                            gathered_group = Some(group);
                        }
                        // Where each row starts; past `count`, the last row again.
                        let mut rows = [0usize; ROWS];
                        for (k, row) in rows.iter_mut().enumerate() {
                            *row = (first + k.min(count - 1)) * filter;
                        }
                        let mut acc = [_mm256_setzero_si256(); ROWS];
                        for (v, &x) in widened.iter().enumerate() {
                            for k in 0..ROWS {
                                // SAFETY: the caller guarantees AVX2. Past the filter this
                                // reads the next filter's weights (or 0 past the end), which
                                // multiply the column's zeros.
                                let w = unsafe { widen16(weights, rows[k] + 16 * v) };
                                acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(x, w));
                            }
                        }
                        let mut starts = [0i32; ROWS];
                        for (k, s) in starts.iter_mut().enumerate() {
                            *s = start.get(first - block + k).copied().unwrap_or(0);
                        }
                        // SAFETY: the caller guarantees AVX2.
                        let bytes = unsafe {
                            let requant = Requant8::new(q, first, first + count);
                            requant.apply(_mm256_add_epi32(load8(&starts), reduce8(&acc)))
                        };
                        let out = output
                            .get_mut(out_at + first..out_at + first + count)
                            .unwrap_or(&mut []);
                        store8(out, bytes);
                        first += count;
                    }
                }
            }
        }
    }
}
