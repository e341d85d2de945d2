//! Scalar reference pooling: the specification.

use crate::format::{PoolGeometry, PoolKind};
use core::num::NonZeroUsize;

/// The taps of one window along one axis: `counted` of them lie inside the padded extent
/// (those past it, in ceil mode, do not count at all), and the taps in `valid` read the input,
/// at index `start + tap * dilation - pad_begin`. Computed rather than visited one by one, so a
/// huge kernel over mostly padding costs no more than the input it covers.
struct Taps {
    counted: usize,
    valid: core::ops::Range<usize>,
    start: usize,
    dilation: usize,
    pad_begin: usize,
}

impl Taps {
    fn new(
        out: usize,
        stride: usize,
        dilation: usize,
        kernel: usize,
        [pad_begin, size, pad_end]: [usize; 3],
    ) -> Taps {
        let start = out * stride; // in padded coordinates
        let Some(step) = NonZeroUsize::new(dilation) else {
            return Taps {
                counted: 0,
                valid: 0..0,
                start,
                dilation,
                pad_begin,
            };
        };
        // How many taps lie below `bound`: ceil((bound - start) / dilation), at most `kernel`.
        let below = |bound: usize| {
            let span = bound.saturating_sub(start);
            (span / step + usize::from(span % step != 0)).min(kernel)
        };
        Taps {
            counted: below(pad_begin + size + pad_end),
            valid: below(pad_begin)..below(pad_begin + size),
            start,
            dilation,
            pad_begin,
        }
    }

    /// Input indices of the taps that read the input, in order.
    fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.valid
            .clone()
            .map(|tap| self.start + tap * self.dilation - self.pad_begin)
    }
}

/// What a window holds: the largest and the sum of its in-bounds values, and how many positions
/// are in bounds and inside the padded extent.
struct WindowStats<A> {
    max: Option<A>,
    sum: A,
    valid: u32,
    padded: u32,
}

/// Visits every output of an NHWC pooling: `finish(window stats, index)` gives its value.
/// Lengths were checked by the caller (a read past them would count as padding).
fn pool<T: Copy, A: Copy + PartialOrd + Default>(
    g: &PoolGeometry,
    input: &[T],
    output: &mut [T],
    widen: impl Fn(T) -> A,
    add: impl Fn(A, A) -> A,
    finish: impl Fn(&WindowStats<A>) -> T,
) {
    let [batch, in_h, in_w, ch] = [g.batch, g.in_h, g.in_w, g.channels].map(|v| v as usize);
    let [out_h, out_w] = [g.out_h, g.out_w].map(|v| v as usize);
    for n in 0..batch {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let out_base = ((n * out_h + oy) * out_w + ox) * ch;
                let Some(pixel) = output.get_mut(out_base..out_base + ch) else {
                    return;
                };
                let rows = Taps::new(
                    oy,
                    g.stride_h as usize,
                    g.dilation_h as usize,
                    g.kernel_h as usize,
                    [g.pad_top as usize, in_h, g.pad_bottom as usize],
                );
                let cols = Taps::new(
                    ox,
                    g.stride_w as usize,
                    g.dilation_w as usize,
                    g.kernel_w as usize,
                    [g.pad_left as usize, in_w, g.pad_right as usize],
                );
                for (c, out) in pixel.iter_mut().enumerate() {
                    let mut stats = WindowStats {
                        max: None,
                        sum: A::default(),
                        valid: 0,
                        // Wraps like a tap-by-tap count would.
                        padded: rows.counted.wrapping_mul(cols.counted) as u32,
                    };
                    for iy in rows.indices() {
                        for ix in cols.indices() {
                            if let Some(&x) = input.get(((n * in_h + iy) * in_w + ix) * ch + c) {
                                let v = widen(x);
                                stats.max = Some(match stats.max {
                                    Some(m) if m >= v => m,
                                    _ => v,
                                });
                                stats.sum = add(stats.sum, v);
                                stats.valid += 1;
                            }
                        }
                    }
                    *out = finish(&stats);
                }
            }
        }
    }
}

/// float32 pooling; a window of padding only is -inf (max) or 0 (average).
pub fn pool2d_f32(kind: PoolKind, g: &PoolGeometry, input: &[f32], output: &mut [f32]) {
    pool(
        g,
        input,
        output,
        |v| v,
        |a, b| a + b,
        |w| match kind {
            PoolKind::Max => w.max.unwrap_or(f32::NEG_INFINITY),
            PoolKind::Avg { count_include_pad } => {
                let count = if count_include_pad { w.padded } else { w.valid };
                if count == 0 {
                    0.0
                } else {
                    w.sum / count as f32
                }
            }
        },
    );
}

/// Lengths were checked by the caller.
pub fn global_pool_f32(
    kind: PoolKind,
    spatial: usize,
    ch: usize,
    input: &[f32],
    output: &mut [f32],
) {
    if ch == 0 {
        return;
    }
    for (n, out) in output.chunks_exact_mut(ch).enumerate() {
        let plane = input
            .get(n * spatial * ch..(n + 1) * spatial * ch)
            .unwrap_or(&[]);
        for (c, y) in out.iter_mut().enumerate() {
            let values = plane.iter().skip(c).step_by(ch);
            *y = match kind {
                PoolKind::Max => values.fold(f32::NEG_INFINITY, |m, &v| m.max(v)),
                PoolKind::Avg { .. } => {
                    if spatial == 0 {
                        0.0
                    } else {
                        values.sum::<f32>() / spatial as f32
                    }
                }
            };
        }
    }
}

/// TFLite's integer average: the sum divided by the count, rounded half away from zero.
pub(super) fn rounded_average(sum: i32, count: i32) -> i32 {
    if count <= 0 {
        return 0;
    }
    if sum > 0 {
        (sum + count / 2) / count
    } else {
        (sum - count / 2) / count
    }
}

/// int8 pooling; with `count_include_pad` padding counts as `zero_point`.
pub fn pool2d_i8(
    kind: PoolKind,
    g: &PoolGeometry,
    zero_point: i32,
    act: (i8, i8),
    input: &[i8],
    output: &mut [i8],
) {
    use crate::kernels::fixedpoint::clamp_i8;
    pool(g, input, output, i32::from, i32::wrapping_add, |w| {
        let value = match kind {
            PoolKind::Max => w.max.unwrap_or(i32::from(act.0)),
            PoolKind::Avg {
                count_include_pad: true,
            } => {
                let padding = (w.padded - w.valid) as i32;
                rounded_average(
                    w.sum.wrapping_add(padding.wrapping_mul(zero_point)),
                    w.padded as i32,
                )
            }
            PoolKind::Avg {
                count_include_pad: false,
            } => rounded_average(w.sum, w.valid as i32),
        };
        clamp_i8(value, act.0, act.1)
    });
}

/// Lengths were checked by the caller.
pub fn global_pool_i8(kind: PoolKind, spatial: usize, ch: usize, input: &[i8], output: &mut [i8]) {
    if ch == 0 {
        return;
    }
    for (n, out) in output.chunks_exact_mut(ch).enumerate() {
        let plane = input
            .get(n * spatial * ch..(n + 1) * spatial * ch)
            .unwrap_or(&[]);
        for (c, y) in out.iter_mut().enumerate() {
            let values = plane.iter().skip(c).step_by(ch).map(|&v| i32::from(v));
            *y = match kind {
                PoolKind::Max => values.max().unwrap_or(i32::from(i8::MIN)) as i8,
                PoolKind::Avg { .. } => {
                    rounded_average(values.fold(0i32, i32::wrapping_add), spatial as i32) as i8
                }
            };
        }
    }
}
