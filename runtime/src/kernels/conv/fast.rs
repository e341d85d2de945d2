//! Optimized int8 convolution, generic over its dot products ([`Dot`]), bit-exact with the
//! reference.
//!
//! The input zero point leaves the inner loops: `sum (x - zp) * w = sum x * w - zp * sum w`.
//! Wrapping int32 arithmetic is exact modulo 2^32, so the result has the reference's bits
//! whatever the order of the sums. Padding reads as the zero point, whose products the
//! hoisted term cancels, so a window that overlaps the padding needs no special case. Paths:
//! - pointwise 1x1: four filters, arranged once ([`Dot::prepare`]), against every pixel;
//! - depthwise: four channels at a time, contiguous in the input, all taps of a pixel;
//! - the rest: each pixel's window gathered into one contiguous column (`im2col`), then four
//!   filters per pass over it;
//! - a fallback for filters longer than the column buffer (or a zero point outside int8):
//!   window rows as contiguous runs where `dilation_w == 1` and `groups == 1`, weight sums of
//!   the in-bounds taps computed on the fly at the borders.

use super::QuantOut;
use super::dot::{Dot, SortedOffsets, load4, widen};
use crate::format::ConvGeometry;
use crate::kernels::fixedpoint::{ChannelRequant, requantize};

/// Output channels whose requantization and weight sums are prepared at once (on the stack).
const BLOCK: usize = 16;
/// Longest filter gathered into a column (bytes of stack).
const COLUMN: usize = 256;
/// Most kernel taps of the depthwise path (each takes 8 bytes of stack).
const MAX_TAPS: usize = 25;

/// The geometry as `usize`, every divisor non-zero.
struct Dims {
    batch: usize,
    in_h: usize,
    in_w: usize,
    in_c: usize,
    out_h: usize,
    out_w: usize,
    out_c: usize,
    k_h: usize,
    k_w: usize,
    s_h: usize,
    s_w: usize,
    d_h: usize,
    d_w: usize,
    pad_top: usize,
    pad_left: usize,
    groups: usize,
    in_per_group: usize,
    out_per_group: usize,
}

impl Dims {
    /// `None` when a size, stride, dilation or group count is zero (left to the reference).
    fn of(g: &ConvGeometry) -> Option<Self> {
        let u = |v: u32| v as usize;
        let nonzero = [
            g.in_c,
            g.out_c,
            g.kernel_h,
            g.kernel_w,
            g.stride_h,
            g.stride_w,
            g.dilation_h,
            g.dilation_w,
            g.groups,
        ];
        if nonzero.contains(&0) {
            return None;
        }
        let (in_per_group, out_per_group) = (u(g.in_c / g.groups), u(g.out_c / g.groups));
        if in_per_group == 0 || out_per_group == 0 {
            return None;
        }
        Some(Self {
            batch: u(g.batch),
            in_h: u(g.in_h),
            in_w: u(g.in_w),
            in_c: u(g.in_c),
            out_h: u(g.out_h),
            out_w: u(g.out_w),
            out_c: u(g.out_c),
            k_h: u(g.kernel_h),
            k_w: u(g.kernel_w),
            s_h: u(g.stride_h),
            s_w: u(g.stride_w),
            d_h: u(g.dilation_h),
            d_w: u(g.dilation_w),
            pad_top: u(g.pad_top),
            pad_left: u(g.pad_left),
            groups: u(g.groups),
            in_per_group,
            out_per_group,
        })
    }

    /// 1x1, stride 1, no padding, one group: output pixels are input pixels.
    fn is_pointwise(&self) -> bool {
        [self.k_h, self.k_w, self.s_h, self.s_w, self.groups] == [1; 5]
            && self.pad_top == 0
            && self.pad_left == 0
            && (self.out_h, self.out_w) == (self.in_h, self.in_w)
    }

    /// One filter per input channel.
    fn is_depthwise(&self) -> bool {
        self.groups == self.in_c && self.out_c == self.in_c
    }

    /// Weights of one output channel's filter.
    fn filter_len(&self) -> usize {
        self.k_h * self.k_w * self.in_per_group
    }
}

/// The in-bounds taps of one kernel axis at one output position.
#[derive(Clone, Copy, PartialEq)]
struct Taps {
    /// First tap inside the input.
    lo: usize,
    /// One past the last tap inside the input.
    hi: usize,
    /// Input position of tap `lo`.
    first: usize,
}

impl Taps {
    /// Tap `k` reads padded position `out * stride + k * dilation`, inside the input when it is
    /// in `pad..pad + len`.
    #[inline]
    fn at(out: usize, stride: usize, dilation: usize, pad: usize, len: usize, k: usize) -> Self {
        let start = out * stride;
        let lo = if start >= pad {
            0
        } else {
            (pad - start).div_ceil(dilation)
        };
        let end = pad + len;
        let hi = if start >= end {
            0
        } else {
            (end - start).div_ceil(dilation).min(k)
        };
        let lo = lo.min(hi);
        Self {
            lo,
            hi,
            first: (start + lo * dilation).wrapping_sub(pad),
        }
    }
}

/// `len` values of `s` from `at`, or none when out of range (never, after the length checks).
#[inline(always)]
fn run(s: &[i8], at: usize, len: usize) -> &[i8] {
    s.get(at..at.wrapping_add(len)).unwrap_or(&[])
}

/// Bias of channel `c`, 0 without one.
#[inline(always)]
fn bias_of(bias: Option<&[i32]>, c: usize) -> i32 {
    bias.and_then(|b| b.get(c)).copied().unwrap_or(0)
}

/// `bias + dots - zp * weight_sum`, requantized for channel `c`.
#[inline(always)]
fn finish(q: &QuantOut<'_>, bias: Option<&[i32]>, c: usize, dots: i32, weight_sum: i32) -> i8 {
    let acc = bias_of(bias, c)
        .wrapping_add(dots)
        .wrapping_sub(q.input_zp.wrapping_mul(weight_sum));
    requantize(acc, q, c)
}

/// The weight sums of the filters of channels `first..first + sums.len()`.
fn filter_sums<D: Dot>(weights: &[i8], filter_len: usize, first: usize, sums: &mut [i32]) {
    for (j, s) in sums.iter_mut().enumerate() {
        *s = D::sum(run(weights, (first + j) * filter_len, filter_len));
    }
}

/// [`super::conv2d_i8`] with the dot products of `D`; lengths were checked by the caller.
pub(crate) fn conv2d_i8<D: Dot>(
    g: &ConvGeometry,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let Some(d) = Dims::of(g) else {
        return super::reference::conv2d_i8(g, q, input, weights, bias, output);
    };
    // Padding can read as the zero point only when it is an int8 value (always, in a
    // verified model).
    let zp = i8::try_from(q.input_zp).ok();
    if d.is_pointwise() {
        pointwise::<D>(&d, q, input, weights, bias, output);
    } else if let Some(zp) = zp
        && d.is_depthwise()
        && d.k_h * d.k_w <= MAX_TAPS
    {
        depthwise::<D>(&d, q, zp, input, weights, bias, output);
    } else if let Some(zp) = zp
        && d.filter_len() <= COLUMN
    {
        gathered::<D>(&d, q, zp, input, weights, bias, output);
    } else {
        general::<D>(&d, q, input, weights, bias, output);
    }
}

/// `bias - zp * sum w` for the filters of `channels`: what each accumulator starts from.
#[inline(always)]
fn offsets_of<D: Dot>(
    q: &QuantOut<'_>,
    bias: Option<&[i32]>,
    channels: [usize; 4],
    filters: [&[i8]; 4],
) -> [i32; 4] {
    [0, 1, 2, 3].map(|k| {
        bias_of(bias, channels[k]).wrapping_sub(q.input_zp.wrapping_mul(D::sum(filters[k])))
    })
}

/// Writes `count` requantized accumulators to `out` from `at`.
#[inline(always)]
fn store(out: &mut [i8], at: usize, count: usize, acc: [i32; 4], requants: &[ChannelRequant]) {
    let out = out.get_mut(at..at + count).unwrap_or(&mut []);
    for ((y, a), r) in out.iter_mut().zip(acc).zip(requants) {
        *y = r.apply(a);
    }
}

/// 1x1 stride 1: four filters at a time, prepared once, against every pixel.
fn pointwise<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let mut scratch = D::Scratch::default();
    for first in (0..d.out_c).step_by(4) {
        let count = (d.out_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let filters = channels.map(|c| run(weights, c * d.in_c, d.in_c));
        let start = offsets_of::<D>(q, bias, channels, filters);
        let requants = channels.map(|c| ChannelRequant::new(q, c));
        let rows = D::prepare(filters, &mut scratch);
        let pixels = input
            .chunks_exact(d.in_c)
            .zip(output.chunks_exact_mut(d.out_c));
        for (x, y) in pixels {
            let dots = D::dot4_prepared(x, &rows);
            let acc = [0, 1, 2, 3].map(|k| start[k].wrapping_add(dots[k]));
            store(y, first, count, acc, &requants[..count]);
        }
    }
}

/// Depthwise (one filter per input channel): four channels at a time, their weights widened
/// once into 16-bit lanes, against every pixel; taps in the padding read the zero point.
fn depthwise<D: Dot>(
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
    for (t, offset) in offsets.iter_mut().enumerate() {
        let (ky, kx) = (t / d.k_w, t % d.k_w);
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
                    } else {
                        // Taps in the padding read the zero point.
                        let mut acc = start;
                        for (ky, row) in lanes.chunks_exact(d.k_w).enumerate() {
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
                    store(output, out_at, count, acc, &requants[..count]);
                }
            }
        }
    }
}

/// Any geometry whose filter fits [`COLUMN`]: each pixel's window (of one group) gathered
/// into a contiguous column, the padding as the zero point, then four filters per pass.
fn gathered<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    zp: i8,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let filter = d.filter_len();
    let mut column = [0i8; COLUMN];
    let column = column.get_mut(..filter).unwrap_or(&mut []);
    for block in (0..d.out_c).step_by(BLOCK) {
        let block_end = (block + BLOCK).min(d.out_c);
        let requants: [ChannelRequant; BLOCK] =
            core::array::from_fn(|j| ChannelRequant::new(q, block + j));
        let starts: [i32; BLOCK] = core::array::from_fn(|j| {
            let filter = run(weights, (block + j) * filter, filter);
            let zp_term = q.input_zp.wrapping_mul(D::sum(filter));
            bias_of(bias, block + j).wrapping_sub(zp_term)
        });
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
                        let count = block_end.min(group_end).min(first + 4) - first;
                        if gathered_group != Some(group) {
                            let window = Window { d, n, ys, xs };
                            window.gather(input, group, zp, column);
                            gathered_group = Some(group);
                        }
                        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
                        let filters = channels.map(|c| run(weights, c * filter, filter));
                        let dots = D::dot4(column, filters);
                        let start = |k: usize| starts.get(first - block + k).copied();
                        let acc = [0, 1, 2, 3].map(|k| start(k).unwrap_or(0).wrapping_add(dots[k]));
                        let requants = requants.get(first - block..).unwrap_or(&[]);
                        store(
                            output,
                            out_at + first,
                            count,
                            acc,
                            requants.get(..count).unwrap_or(&[]),
                        );
                        first += count;
                    }
                }
            }
        }
    }
}

/// Any geometry: per pixel, per group of up to four output channels, the in-bounds window.
/// Padded windows sum their in-bounds weights on the fly.
fn general<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let mut sums = [0i32; BLOCK];
    for first in (0..d.out_c).step_by(BLOCK) {
        let block = (d.out_c - first).min(BLOCK);
        filter_sums::<D>(weights, d.filter_len(), first, &mut sums[..block]);
        for n in 0..d.batch {
            for oy in 0..d.out_h {
                let ys = Taps::at(oy, d.s_h, d.d_h, d.pad_top, d.in_h, d.k_h);
                for ox in 0..d.out_w {
                    let xs = Taps::at(ox, d.s_w, d.d_w, d.pad_left, d.in_w, d.k_w);
                    let inside = (ys.lo, ys.hi, xs.lo, xs.hi) == (0, d.k_h, 0, d.k_w);
                    let out_at = ((n * d.out_h + oy) * d.out_w + ox) * d.out_c;
                    let mut c = first;
                    while c < first + block {
                        let group_end = (c / d.out_per_group + 1) * d.out_per_group;
                        let count = (first + block).min(group_end).min(c + 4) - c;
                        let channels = [0, 1, 2, 3].map(|i| c + i.min(count - 1));
                        let window = Window { d, n, ys, xs };
                        let (dots, partial) = window.dots::<D>(input, weights, channels, !inside);
                        for i in 0..count {
                            let weight_sum = if inside {
                                sums[c + i - first]
                            } else {
                                partial[i]
                            };
                            if let Some(y) = output.get_mut(out_at + c + i) {
                                *y = finish(q, bias, c + i, dots[i], weight_sum);
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
struct Window<'a> {
    d: &'a Dims,
    n: usize,
    ys: Taps,
    xs: Taps,
}

impl Window<'_> {
    /// Copies the window's values of `group`, `[k_h][k_w][in_per_group]`, into `column`;
    /// taps in the padding read `zp`.
    fn gather(&self, input: &[i8], group: usize, zp: i8, column: &mut [i8]) {
        let Self { d, n, ys, xs } = *self;
        let ipg = d.in_per_group;
        for (ky, row) in column.chunks_exact_mut(d.k_w * ipg).enumerate() {
            if !(ys.lo..ys.hi).contains(&ky) {
                row.fill(zp);
                continue;
            }
            let iy_row = (n * d.in_h + ys.first + (ky - ys.lo) * d.d_h) * d.in_w;
            for (kx, cell) in row.chunks_exact_mut(ipg).enumerate() {
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

    /// `sum x * w` over the window for four output channels of one group, and, when asked,
    /// the sums of the weights it used.
    #[inline(always)]
    fn dots<D: Dot>(
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
