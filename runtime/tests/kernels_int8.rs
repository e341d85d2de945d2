//! int8 reference kernels: hand-checked cases (TFLite arithmetic) and property tests against
//! exact real arithmetic on the dequantized values (at most 1 LSB apart).

use proptest::prelude::*;
use whittle_runtime::format::{BinaryKindI8, ConvGeometry, PoolGeometry, PoolKind, Shape};
use whittle_runtime::kernels::binary::{QuantBinary, binary_i8};
use whittle_runtime::kernels::conv::{QuantOut, conv2d_i8};
use whittle_runtime::kernels::fixedpoint::quantize_multiplier;
use whittle_runtime::kernels::{self, Src};

fn requant_of(real: f64) -> (Vec<i32>, Vec<i8>) {
    let (m, s) = quantize_multiplier(real);
    (vec![m], vec![s as i8])
}

fn geom_1x1(in_hw: (u32, u32), c: (u32, u32), k: (u32, u32), pad: u32) -> ConvGeometry {
    ConvGeometry {
        batch: 1,
        in_h: in_hw.0,
        in_w: in_hw.1,
        in_c: c.0,
        out_h: in_hw.0 + 2 * pad + 1 - k.0,
        out_w: in_hw.1 + 2 * pad + 1 - k.1,
        out_c: c.1,
        kernel_h: k.0,
        kernel_w: k.1,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: pad,
        pad_left: pad,
        pad_bottom: pad,
        pad_right: pad,
        groups: 1,
    }
}

#[test]
fn conv_i8_by_hand() {
    // 2x2 input with zero point 10, 2x2 all-ones kernel, no padding: one output, the sum of
    // (x - 10) plus the bias, times 0.5, plus the output zero point -5.
    let g = geom_1x1((2, 2), (1, 1), (2, 2), 0);
    let (m, s) = requant_of(0.5);
    let q = QuantOut {
        input_zp: 10,
        output_zp: -5,
        multipliers: &m,
        shifts: &s,
        act_min: -128,
        act_max: 127,
    };
    let mut y = [0i8; 1];
    conv2d_i8(&g, &q, &[11, 12, 13, 15], &[1, 1, 1, 1], Some(&[3]), &mut y).unwrap();
    // (1 + 2 + 3 + 5 + 3) * 0.5 - 5 = 2
    assert_eq!(y, [2]);
    // Padding reads as the zero point: a 3x3 kernel over a 1x1 input with pad 1.
    let g = geom_1x1((1, 1), (1, 1), (3, 3), 1);
    let (m, s) = requant_of(1.0);
    let q = QuantOut {
        input_zp: 10,
        output_zp: 0,
        multipliers: &m,
        shifts: &s,
        act_min: -128,
        act_max: 127,
    };
    conv2d_i8(&g, &q, &[12], &[1; 9], None, &mut y).unwrap();
    assert_eq!(y, [2]);
    // The fused ReLU is a clamp at the output zero point.
    let q = QuantOut {
        input_zp: 10,
        output_zp: 0,
        multipliers: &m,
        shifts: &s,
        act_min: 0,
        act_max: 127,
    };
    conv2d_i8(&g, &q, &[7], &[1; 9], None, &mut y).unwrap();
    assert_eq!(y, [0]);
}

#[test]
fn add_i8_matches_tflite_arithmetic() {
    // a: scale 0.5, zp 0; b: scale 0.25, zp 0; output: scale 1, zp 0.
    let twice_max = 2.0 * 0.5;
    let (a_m, a_s) = quantize_multiplier(0.5 / twice_max);
    let (b_m, b_s) = quantize_multiplier(0.25 / twice_max);
    let (o_m, o_s) = quantize_multiplier(twice_max / ((1 << 20) as f64 * 1.0));
    let q = QuantBinary {
        kind: BinaryKindI8::Add,
        zero_points: [0, 0, 0],
        a_scale: (a_m, a_s),
        b_scale: (b_m, b_s),
        out_scale: (o_m, o_s),
        left_shift: 20,
        act_min: -128,
        act_max: 127,
    };
    let s = |d: &[u32]| Shape::new(d).unwrap();
    let mut y = [0i8; 3];
    // 10*0.5 + 8*0.25 = 7; -10*0.5 + 6*0.25 = -3.5 -> -3 (ties up); 100*0.5 + 100*0.25 = 75
    binary_i8(
        &q,
        [&s(&[3]), &s(&[3]), &s(&[3])],
        Src::Slice(&[10, -10, 100]),
        Src::Slice(&[8, 6, 100]),
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [7, -3, 75]);
    // Mul: 0.5 * 0.25 / 1: 10 * 8 * 0.125 = 10.
    let (m, sh) = quantize_multiplier(0.125);
    let mul = QuantBinary {
        kind: BinaryKindI8::Mul,
        out_scale: (m, sh),
        ..q
    };
    binary_i8(
        &mul,
        [&s(&[3]), &s(&[1]), &s(&[3])],
        Src::Slice(&[10, -10, 100]),
        Src::Slice(&[8]),
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [10, -10, 100]);
}

#[test]
fn average_pool_i8_rounds_half_away_from_zero() {
    let g = PoolGeometry {
        batch: 1,
        in_h: 1,
        in_w: 2,
        channels: 1,
        out_h: 1,
        out_w: 1,
        kernel_h: 1,
        kernel_w: 2,
        stride_h: 1,
        stride_w: 1,
        dilation_h: 1,
        dilation_w: 1,
        pad_top: 0,
        pad_left: 0,
        pad_bottom: 0,
        pad_right: 0,
    };
    let avg = PoolKind::Avg {
        count_include_pad: false,
    };
    let mut y = [0i8];
    kernels::pool::pool2d_i8(avg, &g, 0, (-128, 127), &[1, 2], &mut y).unwrap();
    assert_eq!(y, [2]);
    kernels::pool::pool2d_i8(avg, &g, 0, (-128, 127), &[-1, -2], &mut y).unwrap();
    assert_eq!(y, [-2]);
    kernels::pool::pool2d_i8(PoolKind::Max, &g, 0, (-128, 127), &[-1, -2], &mut y).unwrap();
    assert_eq!(y, [-1]);
    // Padding counted as the zero point: window [pad, 20] with zp 10 -> (10 + 20) / 2 = 15.
    let padded = PoolGeometry {
        in_w: 1,
        pad_left: 1,
        ..g
    };
    kernels::pool::pool2d_i8(
        PoolKind::Avg {
            count_include_pad: true,
        },
        &padded,
        10,
        (-128, 127),
        &[20],
        &mut y,
    )
    .unwrap();
    assert_eq!(y, [15]);
}

#[test]
fn softmax_i8_by_hand() {
    // Scale 0.1: exp table in Q16.
    let table: Vec<u16> = (1..256)
        .map(|d| (f64::exp(-(d as f64) * 0.1) * 65536.0).round() as u16)
        .take_while(|&v| v > 0)
        .collect();
    let mut y = [0i8; 4];
    kernels::softmax::softmax_i8(1, 4, 1, &table, &[5, 5, 5, 5], &mut y).unwrap();
    assert_eq!(y, [-64; 4]); // 64/256 each
    kernels::softmax::softmax_i8(1, 2, 1, &table, &[127, -128], &mut y[..2]).unwrap();
    assert_eq!(&y[..2], &[127, -128]); // exp(-25.5) is nothing: 256/256 saturates at 127
}

#[test]
fn quantize_dequantize_lookup_requantize() {
    let mut q = [0i8; 5];
    kernels::quantize::quantize_f32(1.0, 0, &[0.5, 1.5, 2.5, -0.5, 1000.0], &mut q).unwrap();
    assert_eq!(q, [0, 2, 2, 0, 127], "ties to even, saturating");
    let mut f = [0f32; 2];
    kernels::quantize::dequantize_i8(0.5, 3, &[3, -1], &mut f).unwrap();
    assert_eq!(f, [0.0, -2.0]);
    let table: Vec<i8> = (0i32..256).map(|i| (i - 128).max(0) as i8).collect(); // ReLU at zp 0
    let mut y = [0i8; 3];
    kernels::lookup::lookup_i8(&table, Src::Slice(&[-5, 0, 7]), &mut y).unwrap();
    assert_eq!(y, [0, 0, 7]);
    let (m, s) = quantize_multiplier(0.5);
    let mut r = [10i8, -10, 0];
    kernels::quantize::requantize_i8((0, 1), (m, s), Src::Output, &mut r).unwrap();
    assert_eq!(r, [6, -4, 1]);
}

fn lcg(seed: &mut u64) -> f32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / 8388608.0) - 1.0
}

proptest! {
    // A handful of cases under Miri, which interprets every instruction.
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 6 } else { 200 }))]

    /// The int8 convolution equals the real convolution of the dequantized operands,
    /// requantized, within 1 LSB.
    #[test]
    fn conv_i8_within_one_lsb_of_real_arithmetic(
        hw in 1u32..6, cin in 1u32..5, cout in 1u32..5, k in 1u32..4, pad in 0u32..2,
        in_zp in -20i32..20, out_zp in -20i32..20, seed in any::<u64>(),
    ) {
        prop_assume!(hw + 2 * pad >= k);
        let g = geom_1x1((hw, hw), (cin, cout), (k, k), pad);
        let mut rng = seed;
        let x: Vec<i8> = (0..hw * hw * cin).map(|_| (lcg(&mut rng) * 100.0) as i8).collect();
        let w: Vec<i8> = (0..cout * k * k * cin).map(|_| (lcg(&mut rng) * 127.0) as i8).collect();
        let bias: Vec<i32> = (0..cout).map(|_| (lcg(&mut rng) * 1000.0) as i32).collect();
        let (sx, so) = (0.05f64, 0.2f64);
        let sw: Vec<f64> = (0..cout).map(|_| 0.001 + 0.01 * f64::from(lcg(&mut rng).abs())).collect();
        let (mut ms, mut ss) = (Vec::new(), Vec::new());
        for scale in &sw {
            let (m, s) = quantize_multiplier(sx * scale / so);
            ms.push(m);
            ss.push(s as i8);
        }
        let q = QuantOut { input_zp: in_zp, output_zp: out_zp, multipliers: &ms, shifts: &ss, act_min: -128, act_max: 127 };
        let mut y = vec![0i8; (g.out_h * g.out_w * cout) as usize];
        conv2d_i8(&g, &q, &x, &w, Some(&bias), &mut y).unwrap();
        let (ih, kk, ci, co) = (hw as i64, k as i64, cin as usize, cout as usize);
        for oy in 0..g.out_h as i64 {
            for ox in 0..g.out_w as i64 {
                for oc in 0..co {
                    let mut real = f64::from(bias[oc]) * sx * sw[oc];
                    for ky in 0..kk {
                        for kx in 0..kk {
                            let (iy, ix) = (oy + ky - pad as i64, ox + kx - pad as i64);
                            if iy < 0 || ix < 0 || iy >= ih || ix >= ih { continue; }
                            for ic in 0..ci {
                                let xv = f64::from(i32::from(x[((iy * ih + ix) as usize) * ci + ic]) - in_zp) * sx;
                                let wv = f64::from(w[((oc * kk as usize + ky as usize) * kk as usize + kx as usize) * ci + ic]) * sw[oc];
                                real += xv * wv;
                            }
                        }
                    }
                    let expected = ((real / so).round() as i64 + i64::from(out_zp)).clamp(-128, 127);
                    let got = i64::from(y[((oy * g.out_w as i64 + ox) as usize) * co + oc]);
                    prop_assert!((got - expected).abs() <= 1, "got {} expected {} (real {})", got, expected, real / so);
                }
            }
        }
    }

    /// int8 Add equals the real sum of the dequantized operands within 1 LSB.
    #[test]
    fn add_i8_within_one_lsb(a in any::<i8>(), b in any::<i8>(), za in -10i32..10, zb in -10i32..10, zo in -10i32..10,
                            sa in 0.01f64..1.0, sb in 0.01f64..1.0, so in 0.01f64..1.0) {
        let twice_max = 2.0 * sa.max(sb);
        let scale = |r: f64| quantize_multiplier(r);
        let q = QuantBinary {
            kind: BinaryKindI8::Add,
            zero_points: [za, zb, zo],
            a_scale: scale(sa / twice_max),
            b_scale: scale(sb / twice_max),
            out_scale: scale(twice_max / ((1 << 20) as f64 * so)),
            left_shift: 20,
            act_min: -128,
            act_max: 127,
        };
        let one = Shape::new(&[1]).unwrap();
        let mut y = [0i8];
        binary_i8(&q, [&one, &one, &one], Src::Slice(&[a]), Src::Slice(&[b]), &mut y).unwrap();
        let real = (f64::from(i32::from(a) - za) * sa + f64::from(i32::from(b) - zb) * sb) / so;
        let expected = (real.round() as i64 + i64::from(zo)).clamp(-128, 127);
        prop_assert!((i64::from(y[0]) - expected).abs() <= 1, "{} vs {}", y[0], expected);
    }
}
