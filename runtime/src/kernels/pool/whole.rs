//! int8 pooling whose one window covers the whole input (no padding, no dilation): a plain
//! sum or maximum per channel, the same values as the reference's windowed loop without its
//! per-tap index arithmetic. The global pooling that ends keyword-spotting and image
//! classifiers is often exported this way.

use super::reference::rounded_average;
use crate::format::{PoolGeometry, PoolKind};
use crate::kernels::fixedpoint::clamp_i8;
use crate::kernels::{chunks, chunks_mut};

/// Pools `input` into `output` when `g` has one output pixel whose window is exactly the
/// input; returns `false`, touching nothing, for any other geometry.
pub(super) fn pool2d_i8(
    kind: PoolKind,
    g: &PoolGeometry,
    act: (i8, i8),
    input: &[i8],
    output: &mut [i8],
) -> bool {
    let whole = (g.out_h, g.out_w) == (1, 1)
        && (g.kernel_h, g.kernel_w) == (g.in_h, g.in_w)
        && (g.dilation_h, g.dilation_w) == (1, 1)
        && [g.pad_top, g.pad_left, g.pad_bottom, g.pad_right] == [0; 4]
        && g.in_h > 0
        && g.in_w > 0
        && g.channels > 0;
    if !whole {
        return false;
    }
    let ch = g.channels as usize;
    // Every tap is inside the input, so the window's count is the pixel count.
    let spatial = g.in_h as usize * g.in_w as usize;
    let Ok(count) = i32::try_from(spatial) else {
        return false;
    };
    let planes = chunks(input, spatial * ch).zip(chunks_mut(output, ch));
    for (plane, pixel) in planes {
        for (c, y) in pixel.iter_mut().enumerate() {
            let values = plane.get(c..).unwrap_or(&[]).iter().step_by(ch);
            let value = match kind {
                PoolKind::Max => values.fold(i32::from(i8::MIN), |m, &v| m.max(i32::from(v))),
                // With no padding the count is the same with or without `count_include_pad`.
                PoolKind::Avg { .. } => {
                    let sum = values.fold(0i32, |s, &v| s.wrapping_add(i32::from(v)));
                    rounded_average(sum, count)
                }
            };
            *y = clamp_i8(value, act.0, act.1);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::reference;
    use crate::format::{PoolGeometry, PoolKind};

    #[test]
    fn whole_windows_match_the_reference() {
        let mut seed = 0x2545_f491_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        let kinds = [
            PoolKind::Max,
            PoolKind::Avg {
                count_include_pad: true,
            },
            PoolKind::Avg {
                count_include_pad: false,
            },
        ];
        for case in 0..300 {
            let (in_h, in_w, channels, batch) = (
                1 + next() % 9,
                1 + next() % 9,
                1 + next() % 7,
                1 + next() % 2,
            );
            let g = PoolGeometry {
                batch,
                in_h,
                in_w,
                channels,
                out_h: 1,
                out_w: 1,
                kernel_h: in_h,
                kernel_w: in_w,
                stride_h: 1 + next() % 3,
                stride_w: 1 + next() % 3,
                dilation_h: 1,
                dilation_w: 1,
                pad_top: 0,
                pad_left: 0,
                pad_bottom: 0,
                pad_right: 0,
            };
            let mut buffer = [0i8; 2 * 9 * 9 * 7];
            let input = &mut buffer[..(batch * in_h * in_w * channels) as usize];
            input.iter_mut().for_each(|v| *v = next() as i8);
            let act = if case % 3 == 0 {
                (-128, 127)
            } else {
                (-20, 90)
            };
            let kind = kinds[case % 3];
            let zero_point = next() as i8 as i32;
            let outputs = (batch * channels) as usize;
            let (mut expected, mut got) = ([0i8; 14], [1i8; 14]);
            let (expected, got) = (&mut expected[..outputs], &mut got[..outputs]);
            reference::pool2d_i8(kind, &g, zero_point, act, input, expected);
            assert!(super::pool2d_i8(kind, &g, act, input, got));
            assert_eq!(got, expected, "{g:?} {kind:?}");
        }
        // A window that is not the whole input is left to the reference.
        let g = PoolGeometry {
            batch: 1,
            in_h: 2,
            in_w: 2,
            channels: 1,
            out_h: 1,
            out_w: 1,
            kernel_h: 2,
            kernel_w: 2,
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: 1,
            pad_left: 0,
            pad_bottom: 0,
            pad_right: 0,
        };
        assert!(!super::pool2d_i8(
            PoolKind::Max,
            &g,
            (-128, 127),
            &[0; 4],
            &mut [0]
        ));
    }
}
