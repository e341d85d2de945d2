//! Reference kernels: hand-checked cases, and property tests against a second, independently
//! indexed implementation (NCHW, textbook loops) of the same ONNX semantics.

use proptest::prelude::*;
use whittle_runtime::format::{
    Activation, BinaryKind, ConvGeometry, PoolGeometry, PoolKind, Shape, UnaryKind,
};
use whittle_runtime::kernels::{self, Src};

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

fn geom(
    in_hw: (u32, u32),
    c: (u32, u32),
    k: (u32, u32),
    stride: (u32, u32),
    pad: [u32; 4],
    groups: u32,
) -> ConvGeometry {
    let out = |i: u32, k: u32, s: u32, p0: u32, p1: u32| (i + p0 + p1 - k) / s + 1;
    ConvGeometry {
        batch: 1,
        in_h: in_hw.0,
        in_w: in_hw.1,
        in_c: c.0,
        out_h: out(in_hw.0, k.0, stride.0, pad[0], pad[2]),
        out_w: out(in_hw.1, k.1, stride.1, pad[1], pad[3]),
        out_c: c.1,
        kernel_h: k.0,
        kernel_w: k.1,
        stride_h: stride.0,
        stride_w: stride.1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad[0],
        pad_left: pad[1],
        pad_bottom: pad[2],
        pad_right: pad[3],
        groups,
    }
}

#[test]
fn conv_3x3_with_padding_by_hand() {
    // 3x3 single-channel input 1..9, all-ones 3x3 kernel, pad 1: each output is the sum of
    // its neighbourhood.
    let g = geom((3, 3), (1, 1), (3, 3), (1, 1), [1, 1, 1, 1], 1);
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let mut y = vec![0.0; 9];
    kernels::conv::conv2d_f32(&g, Activation::None, &x, &[1.0; 9], Some(&[0.5]), &mut y).unwrap();
    assert_eq!(y, [12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5]);
    kernels::conv::conv2d_f32(
        &g,
        Activation::Clip {
            min: 0.0,
            max: 20.0,
        },
        &x,
        &[1.0; 9],
        Some(&[0.5]),
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [12.5, 20.0, 16.5, 20.0, 20.0, 20.0, 20.0, 20.0, 20.0]);
}

#[test]
fn depthwise_conv_keeps_channels_apart() {
    // NHWC 1x2x1x2: channel 0 = [1, 2], channel 1 = [10, 20]; 2x1 kernels [1, 1] and [1, -1].
    let g = geom((2, 1), (2, 2), (2, 1), (1, 1), [0; 4], 2);
    let mut y = vec![0.0; 2];
    kernels::conv::conv2d_f32(
        &g,
        Activation::None,
        &[1.0, 10.0, 2.0, 20.0],
        &[1.0, 1.0, 1.0, -1.0],
        None,
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [3.0, -10.0]);
}

#[test]
fn inconsistent_lengths_are_an_error_not_a_panic() {
    let g = geom((3, 3), (1, 1), (3, 3), (1, 1), [1, 1, 1, 1], 1);
    let mut y = vec![0.0; 9];
    assert!(
        kernels::conv::conv2d_f32(&g, Activation::None, &[0.0; 8], &[1.0; 9], None, &mut y)
            .is_err()
    );
    assert!(kernels::softmax::softmax_f32(2, 3, 1, false, &[0.0; 5], &mut [0.0; 6]).is_err());
}

fn pool_geom(in_hw: u32, k: u32, s: u32, pad: u32) -> PoolGeometry {
    let out = (in_hw + 2 * pad - k) / s + 1;
    PoolGeometry {
        batch: 1,
        in_h: in_hw,
        in_w: in_hw,
        channels: 1,
        out_h: out,
        out_w: out,
        kernel_h: k,
        kernel_w: k,
        stride_h: s,
        stride_w: s,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad,
        pad_left: pad,
        pad_bottom: pad,
        pad_right: pad,
    }
}

#[test]
fn average_pool_padding_modes_by_hand() {
    // 2x2 input [1 2; 3 4], 3x3 window, pad 1, stride 1: every window covers all four values.
    let g = pool_geom(2, 3, 1, 1);
    let x = [1.0, 2.0, 3.0, 4.0];
    let mut y = vec![0.0; 4];
    kernels::pool::pool2d_f32(
        PoolKind::Avg {
            count_include_pad: false,
        },
        &g,
        &x,
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [2.5; 4]);
    kernels::pool::pool2d_f32(
        PoolKind::Avg {
            count_include_pad: true,
        },
        &g,
        &x,
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [10.0 / 9.0; 4]);
    kernels::pool::pool2d_f32(PoolKind::Max, &g, &[-1.0, -2.0, -3.0, -4.0], &mut y).unwrap();
    assert_eq!(y, [-1.0; 4], "padding never wins a max");
}

#[test]
fn softmax_and_log_softmax_by_hand() {
    let mut y = [0.0; 3];
    kernels::softmax::softmax_f32(1, 3, 1, false, &[1.0, 2.0, 3.0], &mut y).unwrap();
    assert!(
        close(&y, &[0.090_030_57, 0.244_728_48, 0.665_240_94]),
        "{y:?}"
    );
    kernels::softmax::softmax_f32(1, 3, 1, true, &[1.0, 2.0, 3.0], &mut y).unwrap();
    assert!(close(&y, &[-2.407_606, -1.407_606, -0.407_606]), "{y:?}");
    // Axis in the middle: [outer=1][axis=2][inner=2].
    let mut y = [0.0; 4];
    kernels::softmax::softmax_f32(1, 2, 2, false, &[0.0, 5.0, 0.0, 5.0], &mut y).unwrap();
    assert_eq!(y, [0.5; 4]);
}

#[test]
fn binary_broadcasts_like_numpy_and_runs_in_place() {
    let s = |d: &[u32]| Shape::new(d).unwrap();
    let mut y = [0.0; 6];
    kernels::binary::binary_f32(
        BinaryKind::Sub,
        Activation::None,
        [&s(&[2, 1]), &s(&[1, 3]), &s(&[2, 3])],
        Src::Slice(&[10.0, 20.0]),
        Src::Slice(&[1.0, 2.0, 3.0]),
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [9.0, 8.0, 7.0, 19.0, 18.0, 17.0]);
    let mut acc = [1.0, -2.0, 3.0];
    kernels::binary::binary_f32(
        BinaryKind::Mul,
        Activation::Relu,
        [&s(&[3]), &s(&[1]), &s(&[3])],
        Src::Output,
        Src::Slice(&[2.0]),
        &mut acc,
    )
    .unwrap();
    assert_eq!(acc, [2.0, 0.0, 6.0]);
}

#[test]
fn matmul_dense_transpose_pad_copy_by_hand() {
    let s = |d: &[u32]| Shape::new(d).unwrap();
    let mut y = [0.0; 4];
    kernels::matmul::matmul_f32(
        &s(&[2, 3]),
        &s(&[3, 2]),
        &s(&[2, 2]),
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        &[1.0, 0.0, 0.0, 1.0, 1.0, 1.0],
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [4.0, 5.0, 10.0, 11.0]);

    let shape = kernels::dense::DenseShape {
        rows: 1,
        in_features: 3,
        out_features: 2,
    };
    let mut y = [0.0; 2];
    kernels::dense::dense_f32(
        shape,
        Activation::None,
        &[1.0, 2.0, 3.0],
        &[1.0, 1.0, 1.0, 0.0, 0.0, -1.0],
        Some(&[0.5, 0.5]),
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [6.5, -2.5]);

    let mut t = [0u32; 6];
    let mut perm = [0u8; 6];
    perm[..2].copy_from_slice(&[1, 0]);
    kernels::transpose::transpose(&s(&[2, 3]), &perm, &[1, 2, 3, 4, 5, 6], &mut t).unwrap();
    assert_eq!(t, [1, 4, 2, 5, 3, 6]);

    let mut p = [0u32; 8];
    let mut begin = [0u32; 6];
    begin[..2].copy_from_slice(&[1, 1]);
    kernels::pad::pad(&s(&[1, 2]), &s(&[2, 4]), &begin, 9, &[1, 2], &mut p).unwrap();
    assert_eq!(p, [9, 9, 9, 9, 9, 1, 2, 9]);

    // Concatenate [a b] and [c] rows of two 2-row matrices: blocks into a 3-wide output.
    let mut out = [0u8; 6];
    let first = kernels::copy::BlockCopy {
        blocks: 2,
        block: 2,
        src_offset: 0,
        src_stride: 2,
        dst_offset: 0,
        dst_stride: 3,
    };
    kernels::copy::copy_blocks(&first, &[1, 2, 4, 5], &mut out).unwrap();
    let second = kernels::copy::BlockCopy {
        blocks: 2,
        block: 1,
        src_offset: 0,
        src_stride: 1,
        dst_offset: 2,
        dst_stride: 3,
    };
    kernels::copy::copy_blocks(&second, &[3, 6], &mut out).unwrap();
    assert_eq!(out, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn unary_values_by_hand() {
    use kernels::unary::apply;
    assert_eq!(apply(UnaryKind::HardSwish, 3.0), 3.0);
    assert_eq!(apply(UnaryKind::HardSwish, -3.0), 0.0);
    assert_eq!(apply(UnaryKind::HardSwish, 1.0), 1.0 * (1.0 / 6.0 + 0.5));
    assert_eq!(
        apply(
            UnaryKind::HardSigmoid {
                alpha: 0.2,
                beta: 0.5
            },
            10.0
        ),
        1.0
    );
    assert_eq!(apply(UnaryKind::LeakyRelu { alpha: 0.1 }, -2.0), -0.2);
    assert!((apply(UnaryKind::Sigmoid, 0.0) - 0.5).abs() < 1e-7);
    assert!(apply(UnaryKind::Sigmoid, -100.0) >= 0.0 && apply(UnaryKind::Sigmoid, 100.0) <= 1.0);
    assert!((apply(UnaryKind::Softplus, 100.0) - 100.0).abs() < 1e-4);
}

/// Textbook NCHW convolution (ONNX semantics), indexed independently of the kernel.
fn conv_nchw(x: &[f32], w: &[f32], b: &[f32], g: &ConvGeometry) -> Vec<f32> {
    let (c, h, wd) = (g.in_c as i64, g.in_h as i64, g.in_w as i64);
    let (m, oh, ow) = (g.out_c as i64, g.out_h as i64, g.out_w as i64);
    let (kh, kw, groups) = (g.kernel_h as i64, g.kernel_w as i64, g.groups as i64);
    let (cg, mg) = (c / groups, m / groups);
    let mut y = vec![0.0; (m * oh * ow) as usize];
    for oc in 0..m {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = b[oc as usize];
                for ic in 0..cg {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = oy * g.stride_h as i64 - g.pad_top as i64
                                + ky * g.dilation_h as i64;
                            let ix = ox * g.stride_w as i64 - g.pad_left as i64
                                + kx * g.dilation_w as i64;
                            if iy < 0 || iy >= h || ix < 0 || ix >= wd {
                                continue;
                            }
                            let ch = (oc / mg) * cg + ic;
                            acc += x[((ch * h + iy) * wd + ix) as usize]
                                * w[(((oc * cg + ic) * kh + ky) * kw + kx) as usize];
                        }
                    }
                }
                y[((oc * oh + oy) * ow + ox) as usize] = acc;
            }
        }
    }
    y
}

/// `[C][H][W]` <-> `[H][W][C]`.
fn to_nhwc(x: &[f32], c: usize, hw: usize) -> Vec<f32> {
    (0..hw * c).map(|i| x[(i % c) * hw + i / c]).collect()
}

fn weights_ohwi(w: &[f32], m: usize, cg: usize, k: usize) -> Vec<f32> {
    (0..m * k * cg)
        .map(|i| {
            let (oc, rest) = (i / (k * cg), i % (k * cg));
            let (kk, ic) = (rest / cg, rest % cg);
            w[(oc * cg + ic) * k + kk]
        })
        .collect()
}

proptest! {
    // A handful of cases under Miri, which interprets every instruction.
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 6 } else { 200 }))]

    #[test]
    fn conv_matches_textbook_nchw(
        h in 1u32..7, w in 1u32..7, groups in 1u32..4, cg in 1u32..4, mg in 1u32..4,
        kh in 1u32..4, kw in 1u32..4, sh in 1u32..3, sw in 1u32..3, dh in 1u32..3, dw in 1u32..3,
        pads in proptest::array::uniform4(0u32..3), seed in any::<u64>(),
    ) {
        let (c, m) = (cg * groups, mg * groups);
        let ext = |k: u32, d: u32| d * (k - 1) + 1;
        prop_assume!(h + pads[0] + pads[2] >= ext(kh, dh) && w + pads[1] + pads[3] >= ext(kw, dw));
        let g = ConvGeometry {
            batch: 1, in_h: h, in_w: w, in_c: c,
            out_h: (h + pads[0] + pads[2] - ext(kh, dh)) / sh + 1,
            out_w: (w + pads[1] + pads[3] - ext(kw, dw)) / sw + 1,
            out_c: m, kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw,
            dilation_h: dh, dilation_w: dw, pad_top: pads[0], pad_left: pads[1], pad_bottom: pads[2], pad_right: pads[3], groups,
        };
        let mut rng = seed;
        let mut next = || { rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); ((rng >> 40) as f32 / 8388608.0) - 1.0 };
        let x: Vec<f32> = (0..c * h * w).map(|_| next()).collect();
        let wt: Vec<f32> = (0..m * cg * kh * kw).map(|_| next()).collect();
        let b: Vec<f32> = (0..m).map(|_| next()).collect();
        let expected = conv_nchw(&x, &wt, &b, &g);
        let mut y = vec![0.0; (m * g.out_h * g.out_w) as usize];
        kernels::conv::conv2d_f32(&g, Activation::None, &to_nhwc(&x, c as usize, (h * w) as usize), &weights_ohwi(&wt, m as usize, cg as usize, (kh * kw) as usize), Some(&b), &mut y).unwrap();
        let expected_nhwc = to_nhwc(&expected, m as usize, (g.out_h * g.out_w) as usize);
        prop_assert!(close(&y, &expected_nhwc), "{:?} vs {:?}", y, expected_nhwc);
    }

    #[test]
    fn binary_broadcast_matches_index_arithmetic(
        dims in proptest::collection::vec(1u32..4, 1..5), mask_a in any::<u8>(), mask_b in any::<u8>(),
    ) {
        let rank = dims.len();
        let a_dims: Vec<u32> = dims.iter().enumerate().map(|(i, &d)| if mask_a >> i & 1 == 1 { 1 } else { d }).collect();
        let b_dims: Vec<u32> = dims.iter().enumerate().map(|(i, &d)| if mask_b >> i & 1 == 1 { 1 } else { d }).collect();
        let n = |d: &[u32]| d.iter().product::<u32>() as usize;
        let a: Vec<f32> = (0..n(&a_dims)).map(|i| i as f32).collect();
        let b: Vec<f32> = (0..n(&b_dims)).map(|i| 100.0 * i as f32).collect();
        let mut y = vec![0.0; n(&dims)];
        kernels::binary::binary_f32(BinaryKind::Add, Activation::None, [&Shape::new(&a_dims).unwrap(), &Shape::new(&b_dims).unwrap(), &Shape::new(&dims).unwrap()], Src::Slice(&a), Src::Slice(&b), &mut y).unwrap();
        for (flat, &v) in y.iter().enumerate() {
            let mut rem = flat;
            let mut idx = vec![0usize; rank];
            for d in (0..rank).rev() { idx[d] = rem % dims[d] as usize; rem /= dims[d] as usize; }
            let at = |ds: &[u32]| ds.iter().enumerate().fold(0usize, |acc, (d, &s)| acc * s as usize + if s == 1 { 0 } else { idx[d] });
            prop_assert_eq!(v, a[at(&a_dims)] + b[at(&b_dims)]);
        }
    }
}
