//! Int8 convolution (pointwise, depthwise, general): every variant against the reference.

use super::*;

fn params() -> impl Strategy<Value = ConvCase> {
    params_with(None)
}

/// Random convolutions; with `grouping`, only of that kind (see `ConvParams::grouping`).
pub(super) fn params_with(only: Option<u8>) -> impl Strategy<Value = ConvCase> {
    (
        (1u32..=2, 0u8..4, 1u32..=9, 1u32..=9),
        (
            [1u32..=9, 1u32..=9],
            [1u32..=4, 1u32..=4],
            [1u32..=3, 1u32..=3],
        ),
        (
            [1u32..=3, 1u32..=3],
            [0u32..=3, 0u32..=3, 0u32..=3, 0u32..=3],
        ),
        (any::<u8>(), any::<u64>(), 0u8..4),
    )
        .prop_map(
            move |(
                (batch, grouping, ipg, opg),
                (spatial, kernel, stride),
                (dilation, pads),
                (style, seed, class),
            )| {
                // A quarter of the cases are pointwise and a quarter 3x3 depthwise with
                // "same" padding, the layers the optimized paths specialise; random shapes
                // would almost never draw them.
                let (grouping, kernel, stride, dilation, pads) = match class {
                    0 => (0, [1, 1], [1, 1], [1, 1], [0; 4]),
                    1 => (1, [3, 3], stride.map(|s| s.min(2)), [1, 1], [1; 4]),
                    _ => (grouping, kernel, stride, dilation, pads),
                };
                let grouping = only.unwrap_or(grouping);
                ConvParams {
                    batch,
                    grouping,
                    in_per_group: ipg,
                    out_per_group: opg,
                    spatial,
                    kernel,
                    stride,
                    dilation,
                    pads,
                    style,
                    seed,
                }
                .case()
            },
        )
}

every_variant_matches_reference! {
    random: params(),
    edge_cases: {
        pointwise_seven_channels => ConvCase::random(
            geom([5, 3, 7], [5, 3, 11], [1, 1], [1, 1], [1, 1], [0; 4], 1), 1, 1),
        pointwise_wide_with_many_outputs => ConvCase::random(
            geom([2, 3, 67], [2, 3, 70], [1, 1], [1, 1], [1, 1], [0; 4], 1), 3, 2),
        pointwise_stride_two => ConvCase::random(
            geom([5, 5, 6], [3, 3, 5], [1, 1], [2, 2], [1, 1], [0; 4], 1), 1, 3),
        one_pixel_padding_everywhere => ConvCase::random(
            geom([1, 1, 5], [1, 1, 9], [3, 3], [1, 1], [1, 1], [1; 4], 1), 1, 4),
        window_wider_than_the_input => ConvCase::random(
            geom([2, 2, 3], [4, 4, 6], [5, 5], [1, 1], [1, 1], [3; 4], 1), 9, 5),
        stride_two_padded => ConvCase::random(
            geom([7, 6, 5], [4, 3, 6], [3, 3], [2, 2], [1, 1], [1, 1, 1, 0], 1), 1, 6),
        dilated => ConvCase::random(
            geom([9, 8, 3], [5, 4, 5], [3, 3], [1, 1], [2, 2], [0; 4], 1), 3, 7),
        dilated_and_padded => ConvCase::random(
            geom([6, 5, 2], [6, 5, 3], [3, 3], [1, 1], [2, 3], [2, 3, 2, 3], 1), 1, 8),
        two_groups => ConvCase::random(
            geom([4, 4, 6], [4, 4, 10], [3, 3], [1, 1], [1, 1], [1; 4], 2), 1, 9),
        depthwise_padded => ConvCase::random(
            geom([5, 4, 37], [5, 4, 37], [3, 3], [1, 1], [1, 1], [1; 4], 37), 1, 10),
        depthwise_stride_two => ConvCase::random(
            geom([8, 8, 9], [4, 4, 9], [3, 3], [2, 2], [1, 1], [1, 1, 0, 0], 9), 3, 11),
        depthwise_two_filters_per_channel => ConvCase::random(
            geom([4, 4, 3], [4, 4, 6], [3, 3], [1, 1], [1, 1], [1; 4], 3), 1, 12),
        more_than_a_block_of_channels => ConvCase::random(
            geom([3, 3, 5], [3, 3, 37], [3, 3], [1, 1], [1, 1], [1; 4], 1), 3, 13),
        keyword_spotting_first_layer => ConvCase::random(
            geom([49, 10, 1], [25, 5, 8], [10, 4], [2, 2], [1, 1], [4, 1, 5, 1], 1), 1, 14),
        single_channel_windows_clipped_on_every_side => ConvCase::random(
            geom([5, 6, 1], [5, 6, 7], [3, 5], [1, 1], [1, 1], [1, 2, 1, 2], 1), 3, 17),
        window_rows_not_whole_words => ConvCase::random(
            geom([6, 5, 3], [3, 3, 5], [3, 3], [2, 2], [1, 1], [1; 4], 1), 1, 18),
        filters_longer_than_the_arranged_rows => ConvCase::random(
            geom([4, 4, 9], [4, 4, 6], [3, 3], [1, 1], [1, 1], [1; 4], 1), 3, 19),
        depthwise_dilated_and_padded => ConvCase::random(
            geom([6, 7, 5], [6, 7, 5], [3, 3], [1, 1], [2, 2], [2; 4], 5), 1, 20),
        accumulator_wraps => ConvCase::random(
            geom([3, 3, 8], [3, 3, 4], [3, 3], [1, 1], [1, 1], [1; 4], 1), 6, 15),
        weights_at_minus_128 => ConvCase::random(
            geom([4, 4, 4], [2, 2, 4], [3, 3], [1, 1], [1, 1], [0; 4], 1), 17, 16),
    }
}

/// Pointwise, depthwise 3x3 (stride 1 and 2) and a general 3x3 convolution with `c`
/// channels.
fn tail_geometries(c: u32) -> [ConvGeometry; 5] {
    [
        geom([3, 2, c], [3, 2, c], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([2, 3, c + 2], [2, 3, c], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([5, 4, c], [5, 4, c], [3, 3], [1, 1], [1, 1], [1; 4], c),
        geom([6, 5, c], [3, 3, c], [3, 3], [2, 2], [1, 1], [1; 4], c),
        geom([4, 3, c], [4, 3, 5], [3, 3], [1, 1], [1, 1], [1; 4], 1),
    ]
}

#[test]
fn simd_tails_random_data() {
    for c in TAIL_CHANNELS {
        for (k, g) in tail_geometries(c).into_iter().enumerate() {
            assert_exact(
                &ConvCase::random(g, 1, u64::from(c) * 10 + k as u64),
                |c, v| c.run(v),
            );
        }
    }
}

#[test]
fn simd_tails_extreme_data() {
    for c in TAIL_CHANNELS {
        for g in tail_geometries(c) {
            for extreme in Extreme::ALL {
                assert_exact(&ConvCase::extreme(g, extreme, u64::from(c)), |c, v| {
                    c.run(v)
                });
            }
        }
    }
}

/// Wide pointwise layers: 255 and 256 input channels, and one past them.
#[test]
fn pointwise_widest() {
    for c in [255, 256, 257] {
        let g = geom([2, 2, c], [2, 2, 9], [1, 1], [1, 1], [1, 1], [0; 4], 1);
        assert_exact(&ConvCase::random(g, 1, u64::from(c)), |c, v| c.run(v));
        for extreme in Extreme::ALL {
            assert_exact(&ConvCase::extreme(g, extreme, u64::from(c)), |c, v| {
                c.run(v)
            });
        }
    }
}

/// Filters longer than the optimized kernels' column buffer (256 values): the window
/// rows are read in place (with AVX2, by its dot products).
#[test]
fn filters_longer_than_the_column() {
    let cases = [
        geom([5, 4, 33], [5, 4, 7], [3, 3], [1, 1], [1, 1], [1; 4], 1),
        geom(
            [6, 6, 31],
            [3, 3, 9],
            [3, 3],
            [2, 2],
            [1, 1],
            [1, 0, 1, 1],
            1,
        ),
        geom([7, 7, 66], [3, 3, 6], [3, 3], [1, 1], [2, 2], [0; 4], 2),
    ];
    for (k, g) in cases.into_iter().enumerate() {
        assert_exact(&ConvCase::random(g, 3, k as u64), |c, v| c.run(v));
        for extreme in Extreme::ALL {
            assert_exact(&ConvCase::extreme(g, extreme, k as u64), |c, v| c.run(v));
        }
    }
}

/// Depthwise 5x5 (an odd number of taps, up to the most the kernels take) and 1x1.
#[test]
fn depthwise_other_kernels() {
    for c in TAIL_CHANNELS {
        let g5 = geom([6, 6, c], [6, 6, c], [5, 5], [1, 1], [1, 1], [2; 4], c);
        let g1 = geom([3, 3, c], [2, 2, c], [1, 1], [2, 2], [1, 1], [0; 4], c);
        for g in [g5, g1] {
            assert_exact(&ConvCase::random(g, 3, u64::from(c)), |c, v| c.run(v));
            assert_exact(
                &ConvCase::extreme(g, Extreme::Mixed, u64::from(c)),
                |c, v| c.run(v),
            );
        }
    }
}

/// One-group layers with many output channels: the AVX2 kernel arranges the filters of up
/// to sixteen passes of sixteen channels at once (fewer when the filters are long), so these
/// take several chunks of passes; odd filter lengths end in a half-empty pair.
#[test]
fn many_output_channels_in_chunks() {
    let cases = [
        // 288 pairs per filter: one pass per chunk.
        geom([4, 4, 64], [4, 4, 40], [3, 3], [1, 1], [1, 1], [1; 4], 1),
        // 20 pairs: sixteen passes per chunk, 300 channels take two chunks.
        geom([3, 2, 40], [3, 2, 300], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([3, 3, 40], [2, 2, 300], [1, 1], [2, 2], [1, 1], [0; 4], 1),
        // Odd filter lengths (27 and 40 values of one or three channels).
        geom(
            [7, 7, 3],
            [4, 4, 19],
            [3, 3],
            [2, 2],
            [1, 1],
            [1, 1, 0, 0],
            1,
        ),
        geom(
            [9, 6, 1],
            [5, 3, 33],
            [10, 4],
            [2, 2],
            [1, 1],
            [4, 1, 5, 1],
            1,
        ),
        // The longest filter the kernel takes (640 values), and one channel more.
        geom([2, 2, 640], [2, 2, 18], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([3, 3, 71], [1, 1, 17], [3, 3], [1, 1], [1, 1], [0; 4], 1),
    ];
    for (k, g) in cases.into_iter().enumerate() {
        assert_exact(&ConvCase::random(g, 3, k as u64), |c, v| c.run(v));
        for extreme in Extreme::ALL {
            assert_exact(&ConvCase::extreme(g, extreme, k as u64), |c, v| c.run(v));
        }
    }
}
