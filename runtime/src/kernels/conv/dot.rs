//! int8 dot products, the inner loops of the optimized convolution and fully connected
//! kernels. Sums wrap in int32 like the reference's accumulator, so any summation order gives
//! the same bits.

/// The dot products an optimized kernel is built from; one implementation per instruction set.
pub(crate) trait Dot {
    /// Stack space for [`Dot::prepare`].
    type Scratch: Default;
    /// Four weight rows arranged for [`Dot::dot4_prepared`].
    type Rows<'a>;

    /// `sum x[i] * w[k][i]` over the common length, wrapping, for four weight rows `k` at
    /// once: `x` is read once.
    fn dot4(x: &[i8], w: [&[i8]; 4]) -> [i32; 4];

    /// Arranges four equally long weight rows once, for many [`Dot::dot4_prepared`] calls.
    fn prepare<'a>(w: [&'a [i8]; 4], scratch: &'a mut Self::Scratch) -> Self::Rows<'a>;

    /// [`Dot::dot4`] with rows from [`Dot::prepare`].
    fn dot4_prepared(x: &[i8], rows: &Self::Rows<'_>) -> [i32; 4];

    /// `sum (x[i] - zp) * w[k][i]` for four rows, wrapping: for rows read once, where
    /// hoisting the zero point saves nothing.
    #[inline(always)]
    fn dot4_centered(x: &[i8], w: [&[i8]; 4], zp: i32) -> [i32; 4] {
        let [d0, d1, d2, d3] = Self::dot4(x, w);
        let [w0, w1, w2, w3] = w;
        let centered = |dot: i32, row: &[i8]| dot.wrapping_sub(zp.wrapping_mul(Self::sum(row)));
        [
            centered(d0, w0),
            centered(d1, w1),
            centered(d2, w2),
            centered(d3, w3),
        ]
    }

    /// `sum x[i] * w[k][i]` over `x`, wrapping, for the four filters of one block of widened
    /// words ([`WeightLayout::Widened4`](crate::format::WeightLayout::Widened4)): per group of
    /// four values, eight words, filter `k`'s even lanes then its odd lanes. `words` holds
    /// `8 * ceil(x.len() / 4)` words; the last group's missing values read as 0.
    #[inline(always)]
    fn dot4_widened(x: &[i8], words: &[u32]) -> [i32; 4] {
        let groups = crate::kernels::chunks(words, 8).take(x.len().div_ceil(4));
        groups.enumerate().fold([0; 4], |acc, (g, group)| {
            mac_group(acc, load4(x, 4 * g), group)
        })
    }

    /// `sum w[i]`, wrapping: what the hoisted zero-point term multiplies.
    #[inline(always)]
    fn sum(w: &[i8]) -> i32 {
        w.iter()
            .fold(0i32, |acc, &v| acc.wrapping_add(i32::from(v)))
    }

    /// `acc[k] + x[k] * w[k]` for four channels: `x` holds four int8 values (little-endian),
    /// `w` their weights as 16-bit lanes, `(w0, w2)` and `(w1, w3)` (see [`widen`]).
    #[inline(always)]
    fn mac_lanes([a0, a1, a2, a3]: [i32; 4], x: u32, [even, odd]: [u32; 2]) -> [i32; 4] {
        let [x0, x1, x2, x3] = x.to_le_bytes().map(|b| i32::from(b as i8));
        let w = |lanes: u32| i32::from(lanes as u16 as i16);
        [
            a0.wrapping_add(x0 * w(even)),
            a1.wrapping_add(x1 * w(odd)),
            a2.wrapping_add(x2 * w(even >> 16)),
            a3.wrapping_add(x3 * w(odd >> 16)),
        ]
    }

    /// [`Dot::mac_lanes`] over the taps of one depthwise window inside the input: tap `t`
    /// reads four channels at `input[base + taps[t].offset..]`, every offset at most `reach`.
    #[inline(always)]
    fn mac_window(
        acc: [i32; 4],
        input: &[i8],
        base: usize,
        reach: usize,
        taps: &[Tap],
    ) -> [i32; 4] {
        // Each read is checked on its own here; `reach` lets a variant check once per window.
        let _ = reach;
        taps.iter().fold(acc, |acc, tap| {
            Self::mac_lanes(acc, load4(input, base.wrapping_add(tap.offset)), tap.lanes)
        })
    }

    /// [`Dot::mac_window`] from `start` over every window of `rect` (the taps at most `reach`
    /// from each base), each requantized by `requants` into four outputs. Returns whether it
    /// did: a variant without such a loop, or one that cannot take these operands, writes
    /// nothing and returns `false`, and the caller runs the windows one at a time.
    #[inline(always)]
    fn mac_rectangle(
        start: [i32; 4],
        input: &[i8],
        reach: usize,
        taps: &[Tap],
        rect: &Rectangle,
        requants: &crate::kernels::fixedpoint::Requant4,
        output: &mut [i8],
    ) -> bool {
        let _ = (start, input, reach, taps, rect, requants, output);
        false
    }

    /// For every row of `run`, `start` plus [`Dot::dot4_widened`] of the row and one block of
    /// widened `words`, requantized by `requants` into four outputs. Returns whether it did;
    /// otherwise, having written nothing, the caller runs the rows one at a time.
    #[inline(always)]
    fn dot4_widened_rows(
        start: [i32; 4],
        x: &[i8],
        words: &[u32],
        run: &RowRun,
        requants: &crate::kernels::fixedpoint::Requant4,
        output: &mut [i8],
    ) -> bool {
        let _ = (start, x, words, run, requants, output);
        false
    }

    /// [`Dot::dot4_widened_rows`] with [`Dot::dot4_prepared`] rows.
    #[inline(always)]
    fn dot4_prepared_rows(
        start: [i32; 4],
        x: &[i8],
        rows: &Self::Rows<'_>,
        run: &RowRun,
        requants: &crate::kernels::fixedpoint::Requant4,
        output: &mut [i8],
    ) -> bool {
        let _ = (start, x, rows, run, requants, output);
        false
    }
}

/// A rectangle of depthwise output pixels whose windows share one tap table, for
/// [`Dot::mac_rectangle`]: indices into the input (of each window's first tap inside it, for
/// the first of four channels) and into the output, and how they move from pixel to pixel.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(whittle_arm_dsp), allow(dead_code))]
pub(crate) struct Rectangle {
    /// Rows and columns of output pixels, each at least one.
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// The first pixel's window base in the input, and its step along a row and down a column.
    pub(crate) base: usize,
    pub(crate) step: usize,
    pub(crate) row_pitch: usize,
    /// The first pixel's first output, and its step along a row and down a column.
    pub(crate) out: usize,
    pub(crate) out_step: usize,
    pub(crate) out_row_pitch: usize,
}

/// Consecutive input rows, each `len` values, for [`Dot::dot4_widened_rows`] and
/// [`Dot::dot4_prepared_rows`]: row `r` starts at `r * len` and its four outputs at `out + r *
/// out_step`.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(not(whittle_arm_dsp), allow(dead_code))]
pub(crate) struct RowRun {
    pub(crate) rows: usize,
    pub(crate) len: usize,
    pub(crate) out: usize,
    pub(crate) out_step: usize,
}

/// One tap of a depthwise window for four channels: where it reads, relative to the window's
/// first tap inside the input, and its weights as [`widen`] lays them out.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct Tap {
    /// Offset of the tap's four input values from the window's base.
    pub(crate) offset: usize,
    /// The weights, `[(w0, w2), (w1, w3)]` as 16-bit lanes.
    pub(crate) lanes: [u32; 2],
}

/// Four int8 values as the 16-bit lanes `(v0, v2)` and `(v1, v3)`: what the DSP extension's
/// `SXTB16` makes of a word, and what [`Dot::mac_lanes`] reads.
#[inline(always)]
pub(crate) fn widen(v: [i8; 4]) -> [u32; 2] {
    let lane = |lo: i8, hi: i8| u32::from(lo as i16 as u16) | (u32::from(hi as i16 as u16) << 16);
    [lane(v[0], v[2]), lane(v[1], v[3])]
}

/// `acc[k] + sum x[i] * w[k][i]` over the four values of `x` (little-endian) and one group of
/// widened words: `group[2k]` holds filter `k`'s lanes `(w0, w2)`, `group[2k + 1]` its
/// `(w1, w3)`.
#[inline(always)]
pub(crate) fn mac_group(acc: [i32; 4], x: u32, group: &[u32]) -> [i32; 4] {
    let [x0, x1, x2, x3] = x.to_le_bytes().map(|b| i32::from(b as i8));
    let lane = |w: u32| i32::from(w as u16 as i16);
    let mut out = acc;
    for (k, a) in out.iter_mut().enumerate() {
        let even = group.get(2 * k).copied().unwrap_or(0);
        let odd = group.get(2 * k + 1).copied().unwrap_or(0);
        let sum = x0 * lane(even) + x2 * lane(even >> 16) + x1 * lane(odd) + x3 * lane(odd >> 16);
        *a = a.wrapping_add(sum);
    }
    out
}

/// Four int8 values from `s` at `at` as a little-endian word; missing ones read as 0.
#[inline(always)]
pub(crate) fn load4(s: &[i8], at: usize) -> u32 {
    let byte = |i: usize| s.get(at.wrapping_add(i)).map_or(0, |&v| v as u8);
    match s.get(at..at.wrapping_add(4)) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a as u8, b as u8, c as u8, d as u8]),
        _ => u32::from_le_bytes([byte(0), byte(1), byte(2), byte(3)]),
    }
}

/// Plain Rust, for every target.
pub(crate) struct Portable;

impl Dot for Portable {
    type Scratch = ();
    type Rows<'a> = [&'a [i8]; 4];

    #[inline(always)]
    fn dot4(x: &[i8], [w0, w1, w2, w3]: [&[i8]; 4]) -> [i32; 4] {
        let mut acc = [0i32; 4];
        let rows = x.iter().zip(w0).zip(w1).zip(w2).zip(w3);
        for ((((&xv, &a), &b), &c), &d) in rows {
            let xv = i32::from(xv);
            acc[0] = acc[0].wrapping_add(xv * i32::from(a));
            acc[1] = acc[1].wrapping_add(xv * i32::from(b));
            acc[2] = acc[2].wrapping_add(xv * i32::from(c));
            acc[3] = acc[3].wrapping_add(xv * i32::from(d));
        }
        acc
    }

    #[inline(always)]
    fn dot4_centered(x: &[i8], [w0, w1, w2, w3]: [&[i8]; 4], zp: i32) -> [i32; 4] {
        let mut acc = [0i32; 4];
        let rows = x.iter().zip(w0).zip(w1).zip(w2).zip(w3);
        for ((((&xv, &a), &b), &c), &d) in rows {
            let xv = i32::from(xv).wrapping_sub(zp);
            acc[0] = acc[0].wrapping_add(xv.wrapping_mul(i32::from(a)));
            acc[1] = acc[1].wrapping_add(xv.wrapping_mul(i32::from(b)));
            acc[2] = acc[2].wrapping_add(xv.wrapping_mul(i32::from(c)));
            acc[3] = acc[3].wrapping_add(xv.wrapping_mul(i32::from(d)));
        }
        acc
    }

    #[inline(always)]
    fn prepare<'a>(w: [&'a [i8]; 4], _: &'a mut ()) -> [&'a [i8]; 4] {
        w
    }

    #[inline(always)]
    fn dot4_prepared(x: &[i8], rows: &[&[i8]; 4]) -> [i32; 4] {
        Self::dot4(x, *rows)
    }
}
