//! Convolutions over gathered windows: any geometry, any number of groups.

use super::super::QuantOut;
use super::super::dot::{Dot, RowRun};
use super::filters::{Filters, Rows};
use super::{BLOCK, COLUMN, Dims, Taps, add4, filter_sums, finish, run, start_of, store};
use crate::kernels::fixedpoint::Requant4;
use crate::kernels::{chunks, chunks_mut};
use core::num::NonZeroUsize;

/// Bytes of gathered windows held at once: the windows of a block of pixels.
const WINDOWS: usize = 3 * COLUMN / 2;

/// Any geometry whose filter fits [`COLUMN`]: for each block of up to [`BLOCK`] output
/// channels of one group (their weight sums computed once), the windows of a block of pixels
/// are gathered into contiguous columns (the padding as the zero point), then the block's
/// filters run against them four at a time, made ready once per block of pixels
/// ([`Filters::block`]).
// Not inlined: each path keeps its own stack frame (see `conv2d_i8`).
#[inline(never)]
pub(super) fn gathered<D: Dot, F: Filters<D>>(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    filters: &F,
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let filter = d.filter_len();
    let (Some(out_w), Some(out_h)) = (NonZeroUsize::new(d.out_w), NonZeroUsize::new(d.out_h))
    else {
        return; // no output pixel
    };
    let plane = out_w.saturating_mul(out_h);
    if filter == 0 || filter > COLUMN {
        return; // never: the caller checked, and `Dims` has no zero size
    }
    let per_block = WINDOWS / filter;
    let mut windows = [0i8; WINDOWS];
    let mut scratch = F::Scratch::default();
    let mut sums = [0i32; BLOCK];
    let runs = d.d_w == 1 && d.groups == 1;
    let pixels = d.batch * d.out_h * d.out_w;
    for group in 0..d.groups {
        let channels_end = (group + 1) * d.out_per_group;
        // Blocks of channels whose weight sums are computed once, each against every pixel.
        for first_channel in (group * d.out_per_group..channels_end).step_by(BLOCK) {
            let channels_in = (channels_end - first_channel).min(BLOCK);
            let sums = sums.get_mut(..channels_in).unwrap_or(&mut []);
            filter_sums::<D, F>(filters, first_channel, sums);
            for block in (0..pixels).step_by(per_block) {
                let in_block = (pixels - block).min(per_block);
                let columns = chunks_mut(&mut windows, filter).take(in_block);
                for (pixel, column) in (block..).zip(columns) {
                    let (n, oy, ox) = (pixel / plane, pixel / out_w % out_h, pixel % out_w);
                    let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let window = Window { d, n, ys, xs };
                    if runs {
                        window.gather_runs(input, zp, column);
                    } else {
                        window.gather(input, group, zp, column);
                    }
                }
                for sub in (0..channels_in).step_by(4) {
                    let count = (channels_in - sub).min(4);
                    let at = [0, 1, 2, 3].map(|k| sub + k.min(count - 1));
                    let channels = at.map(|i| first_channel + i);
                    let start = at.map(|i| {
                        let sum = sums.get(i).copied().unwrap_or(0);
                        start_of(q, bias, first_channel + i, sum)
                    });
                    let requants = Requant4::new(q, channels);
                    let rows = filters.block(channels, &mut scratch);
                    let run = RowRun {
                        rows: in_block,
                        len: filter,
                        out: block * d.out_c + first_channel + sub,
                        out_step: d.out_c,
                    };
                    if count == 4 && F::dot4_rows(start, &windows, &rows, &run, &requants, output) {
                        continue;
                    }
                    let columns = chunks(&windows, filter).take(in_block);
                    for (pixel, column) in (block..).zip(columns) {
                        let acc = add4(start, F::dot4(column, &rows));
                        let at = pixel * d.out_c + first_channel + sub;
                        store(output, at, count, acc, &requants);
                    }
                }
            }
        }
    }
}

/// Any geometry: per pixel, per group of up to four output channels, the in-bounds window.
/// Padded windows sum their in-bounds weights on the fly.
// Not inlined: each path keeps its own stack frame (see `conv2d_i8`).
#[inline(never)]
pub(super) fn general<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let Some(out_per_group) = NonZeroUsize::new(d.out_per_group) else {
        return; // never: `Dims` has whole, non-empty groups
    };
    let mut sums = [0i32; BLOCK];
    for first in (0..d.out_c).step_by(BLOCK) {
        let block = (d.out_c - first).min(BLOCK);
        let rows = Rows {
            weights,
            len: d.filter_len(),
        };
        filter_sums::<D, _>(&rows, first, &mut sums[..block]);
        for n in 0..d.batch {
            for oy in 0..d.out_h {
                let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                for ox in 0..d.out_w {
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let inside = (ys.lo, ys.hi, xs.lo, xs.hi) == (0, d.k_h, 0, d.k_w);
                    let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c;
                    let mut c = first;
                    while c < first + block {
                        let group_end = (c / out_per_group + 1) * d.out_per_group;
                        let count = (first + block).min(group_end).min(c + 4) - c;
                        let channels = [0, 1, 2, 3].map(|i| c + i.min(count - 1));
                        let window = Window { d, n, ys, xs };
                        let (dots, partial) = window.dots::<D>(input, weights, channels, !inside);
                        let results = dots.into_iter().zip(partial).enumerate().take(count);
                        for (i, (dot, partial)) in results {
                            let weight_sum = if inside {
                                sums.get(c + i - first).copied().unwrap_or(0)
                            } else {
                                partial
                            };
                            if let Some(y) = output.get_mut(out_at + c + i) {
                                *y = finish(q, bias, c + i, dot, weight_sum);
                            }
                        }
                        c += count;
                    }
                }
            }
        }
    }
}

/// The in-bounds part of one output pixel's window.
pub(in crate::kernels::conv) struct Window<'a> {
    pub(in crate::kernels::conv) d: &'a Dims,
    pub(in crate::kernels::conv) n: usize,
    pub(in crate::kernels::conv) ys: Taps,
    pub(in crate::kernels::conv) xs: Taps,
}

impl Window<'_> {
    /// Copies the window's values of `group`, `[k_h][k_w][in_per_group]`, into `column`;
    /// taps in the padding read `zp`.
    pub(in crate::kernels::conv) fn gather(
        &self,
        input: &[i8],
        group: usize,
        zp: i8,
        column: &mut [i8],
    ) {
        let Self { d, n, ys, xs } = *self;
        let ipg = d.in_per_group;
        for (ky, row) in chunks_mut(column, d.k_w * ipg).enumerate() {
            if !(ys.lo..ys.hi).contains(&ky) {
                row.fill(zp);
                continue;
            }
            let iy_row = (n * d.in_h + ys.first + (ky - ys.lo) * d.d_h) * d.in_w;
            for (kx, cell) in chunks_mut(row, ipg).enumerate() {
                if (xs.lo..xs.hi).contains(&kx) {
                    let ix = xs.first + (kx - xs.lo) * d.d_w;
                    let at = (iy_row + ix) * d.in_c + group * ipg;
                    for (c, &v) in cell.iter_mut().zip(run(input, at, ipg)) {
                        *c = v;
                    }
                } else {
                    cell.fill(zp);
                }
            }
        }
    }

    /// [`Window::gather`] (of group 0) where each window row's taps inside the input are one run of it
    /// (`dilation_w == 1`, one group): a short copy per row, the zero point written only
    /// where the window overlaps the padding.
    #[inline(always)]
    #[allow(unsafe_code)]
    pub(super) fn gather_runs(&self, input: &[i8], zp: i8, column: &mut [i8]) {
        let Self { d, n, ys, xs } = *self;
        let row_len = d.k_w * d.in_c;
        let len = (xs.hi - xs.lo) * d.in_c;
        let rows = ys.hi - ys.lo;
        if (ys.lo, ys.hi, xs.lo, xs.hi) != (0, d.k_h, 0, d.k_w) {
            column.fill(zp);
        }
        let step = d.d_h * d.in_w * d.in_c;
        let from = ((n * d.in_h + ys.first) * d.in_w + xs.first) * d.in_c;
        let to = ys.lo * row_len + xs.lo * d.in_c;
        // The runs lie at fixed strides: when the last one ends inside both slices, all do.
        let end = |start: usize, stride: usize| {
            rows.checked_sub(1)?
                .checked_mul(stride)?
                .checked_add(start)?
                .checked_add(len)
        };
        let inside = match (end(from, step), end(to, row_len)) {
            (Some(last_from), Some(last_to)) => {
                last_from <= input.len() && last_to <= column.len() && row_len >= len
            }
            _ => false,
        };
        if !inside {
            return; // no rows, or (never) runs outside the slices
        }
        let (src, dst) = (input.as_ptr(), column.as_mut_ptr());
        // Column by column of the runs (a word, then single bytes), down the rows: a strided
        // loop, which the compiler keeps as loads and stores rather than calls to `memcpy`.
        // SAFETY: run `r < rows` reads `from + r * step ..+ len`, inside `input`, and writes
        // `to + r * row_len ..+ len`, inside `column` (the last run's ends were checked
        // above); unaligned word accesses are allowed; `input` and `column` do not overlap.
        unsafe {
            let (src, dst) = (src.add(from), dst.add(to));
            let mut at = 0;
            while at < len {
                let word = len - at >= 4;
                let (mut s, mut t) = (src.add(at), dst.add(at));
                for _ in 0..rows {
                    if word {
                        t.cast::<u32>()
                            .write_unaligned(s.cast::<u32>().read_unaligned());
                    } else {
                        t.write(s.read());
                    }
                    s = s.wrapping_add(step);
                    t = t.wrapping_add(row_len);
                }
                at += if word { 4 } else { 1 };
            }
        }
    }

    /// `sum x * w` over the window for four output channels of one group, and, when asked,
    /// the sums of the weights it used.
    #[inline(always)]
    pub(super) fn dots<D: Dot>(
        &self,
        input: &[i8],
        weights: &[i8],
        channels: [usize; 4],
        with_sums: bool,
    ) -> ([i32; 4], [i32; 4]) {
        let Self { d, n, ys, xs } = *self;
        let group = channels[0] / d.out_per_group;
        let (mut dots, mut sums) = ([0i32; 4], [0i32; 4]);
        let mut add = |x: &[i8], w_at: [usize; 4]| {
            let w = w_at.map(|at| run(weights, at, x.len()));
            let r = D::dot4(x, w);
            for i in 0..4 {
                dots[i] = dots[i].wrapping_add(r[i]);
                if with_sums {
                    sums[i] = sums[i].wrapping_add(D::sum(w[i]));
                }
            }
        };
        let tap = |c: usize, ky: usize, kx: usize| ((c * d.k_h + ky) * d.k_w + kx) * d.in_per_group;
        for ky in ys.lo..ys.hi {
            let row = (n * d.in_h + ys.first + (ky - ys.lo) * d.d_h) * d.in_w;
            if d.d_w == 1 && d.groups == 1 {
                // The window row is one run, in the input and in every filter.
                let x = run(input, (row + xs.first) * d.in_c, (xs.hi - xs.lo) * d.in_c);
                add(x, channels.map(|c| tap(c, ky, xs.lo)));
            } else {
                for kx in xs.lo..xs.hi {
                    let ix = xs.first + (kx - xs.lo) * d.d_w;
                    let at = (row + ix) * d.in_c + group * d.in_per_group;
                    add(
                        run(input, at, d.in_per_group),
                        channels.map(|c| tap(c, ky, kx)),
                    );
                }
            }
        }
        (dots, sums)
    }
}
