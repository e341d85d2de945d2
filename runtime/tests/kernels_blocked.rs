//! The float32 convolution and fully connected kernels over packed (`Blocked8`) weights, in
//! every variant this target runs, equal the scalar reference over the reference weights bit
//! for bit (`to_bits`): random shapes (proptest) and named edge cases (channels not a multiple
//! of eight, 1x1 spatial, padding everywhere, strides, dilations, groups, depthwise).
//! Build with `--features std` on x86_64 to include the AVX2 variant.

use proptest::prelude::*;
use whittle_runtime::format::{Activation, ConvGeometry};
use whittle_runtime::kernels::Variant;
use whittle_runtime::kernels::conv::{self, blocked_len, conv2d_f32_blocked_variant};
use whittle_runtime::kernels::dense::{self, DenseShape, dense_f32_blocked_variant};

const CASES: u32 = if cfg!(miri) { 4 } else { 1000 };

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Floats over many binades (so that the order of the additions shows in the last bit),
    /// with zeros of both signs now and then.
    fn floats(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                let r = self.next();
                match r % 16 {
                    0 => 0.0,
                    1 => -0.0,
                    _ => {
                        let mantissa = (r >> 8) as u32 as f32 / u32::MAX as f32 - 0.5;
                        mantissa * 2f32.powi((r >> 40) as i32 % 12 - 4)
                    }
                }
            })
            .collect()
    }
}

fn activation(k: u8) -> Activation {
    match k % 3 {
        0 => Activation::None,
        1 => Activation::Relu,
        _ => Activation::Clip {
            min: -0.25,
            max: 0.5,
        },
    }
}

fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// A convolution with `groups` groups of `ipg` inputs and `opg` outputs; the output size
/// follows from the rest (the input grows until the window fits).
#[allow(clippy::too_many_arguments)]
fn geom(
    spatial: [u32; 2],
    (groups, ipg, opg): (u32, u32, u32),
    kernel: [u32; 2],
    stride: [u32; 2],
    dilation: [u32; 2],
    pads: [u32; 4],
    batch: u32,
) -> ConvGeometry {
    let out = |i: usize, pad: u32| {
        let extent = dilation[i] * (kernel[i] - 1) + 1;
        let size = spatial[i].max(extent.saturating_sub(pad));
        (size, (size + pad - extent) / stride[i] + 1)
    };
    let (in_h, out_h) = out(0, pads[0] + pads[2]);
    let (in_w, out_w) = out(1, pads[1] + pads[3]);
    ConvGeometry {
        batch,
        in_h,
        in_w,
        in_c: groups * ipg,
        out_h,
        out_w,
        out_c: groups * opg,
        kernel_h: kernel[0],
        kernel_w: kernel[1],
        stride_h: stride[0],
        stride_w: stride[1],
        dilation_h: dilation[0],
        dilation_w: dilation[1],
        pad_top: pads[0],
        pad_left: pads[1],
        pad_bottom: pads[2],
        pad_right: pads[3],
        groups,
    }
}

/// Runs every variant over packed weights against the reference; `Err` names the first
/// variant that differs.
fn check_conv(g: &ConvGeometry, seed: u64, style: u8) -> Result<(), String> {
    let mut rng = Rng(seed);
    let n = |d: &[u32]| d.iter().product::<u32>() as usize;
    let input = rng.floats(n(&[g.batch, g.in_h, g.in_w, g.in_c]));
    let weights = rng.floats(n(&[g.out_c, g.kernel_h, g.kernel_w, g.in_c / g.groups]));
    let bias = (style & 4 != 0).then(|| rng.floats(g.out_c as usize));
    let act = activation(style);
    let mut expected = vec![0.0; n(&[g.batch, g.out_h, g.out_w, g.out_c])];
    conv::conv2d_f32(g, act, &input, &weights, bias.as_deref(), &mut expected).unwrap();
    let mut packed = vec![f32::NAN; blocked_len(g).unwrap()];
    conv::pack_blocked(g, &weights, &mut packed).unwrap();
    for &variant in Variant::ALL {
        let mut got = vec![f32::NAN; expected.len()];
        conv2d_f32_blocked_variant(variant, g, act, &input, &packed, bias.as_deref(), &mut got)
            .unwrap();
        if !same_bits(&expected, &got) {
            return Err(format!(
                "{} differs: {expected:?} vs {got:?}",
                variant.name()
            ));
        }
    }
    Ok(())
}

fn check_dense(rows: u32, inf: u32, outf: u32, seed: u64, style: u8) -> Result<(), String> {
    let mut rng = Rng(seed);
    let shape = DenseShape {
        rows,
        in_features: inf,
        out_features: outf,
    };
    let input = rng.floats((rows * inf) as usize);
    let weights = rng.floats((outf * inf) as usize);
    let bias = (style & 4 != 0).then(|| rng.floats(outf as usize));
    let act = activation(style);
    let mut expected = vec![0.0; (rows * outf) as usize];
    dense::dense_f32(shape, act, &input, &weights, bias.as_deref(), &mut expected).unwrap();
    let mut packed = vec![f32::NAN; shape.blocked_len().unwrap()];
    dense::pack_blocked(shape, &weights, &mut packed).unwrap();
    for &variant in Variant::ALL {
        let mut got = vec![f32::NAN; expected.len()];
        dense_f32_blocked_variant(
            variant,
            shape,
            act,
            &input,
            &packed,
            bias.as_deref(),
            &mut got,
        )
        .unwrap();
        if !same_bits(&expected, &got) {
            return Err(format!(
                "{} differs: {expected:?} vs {got:?}",
                variant.name()
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn packed_convolutions_equal_the_reference(
        (grouping, ipg, opg, batch) in (0u8..4, 1u32..=20, 1u32..=20, 1u32..=2),
        spatial in [1u32..=7, 1u32..=7],
        kernel in [1u32..=4, 1u32..=4],
        stride in [1u32..=3, 1u32..=3],
        dilation in [1u32..=3, 1u32..=3],
        pads in [0u32..=3, 0u32..=3, 0u32..=3, 0u32..=3],
        (seed, style) in (any::<u64>(), any::<u8>()),
    ) {
        // 0: one group; 1: depthwise; 2: depthwise with several filters per channel;
        // 3: two or three groups.
        let (groups, ipg, opg) = match grouping {
            0 => (1, ipg, opg),
            1 => (ipg, 1, 1),
            2 => (ipg, 1, opg.min(3)),
            _ => (2 + ipg % 2, ipg, opg),
        };
        let g = geom(spatial, (groups, ipg, opg), kernel, stride, dilation, pads, batch);
        check_conv(&g, seed, style).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn packed_fully_connected_layers_equal_the_reference(
        rows in 1u32..=3,
        inf in 0u32..=70,
        outf in 1u32..=41,
        (seed, style) in (any::<u64>(), any::<u8>()),
    ) {
        check_dense(rows, inf, outf, seed, style).map_err(TestCaseError::fail)?;
    }
}

#[test]
fn named_convolutions_equal_the_reference() {
    let cases = [
        // Pointwise, seven outputs: one partial block.
        geom([5, 3], (1, 7, 7), [1, 1], [1, 1], [1, 1], [0; 4], 1),
        // 1x1 spatial, padding on every side.
        geom([1, 1], (1, 5, 9), [3, 3], [1, 1], [1, 1], [1; 4], 1),
        // A window wider than the input.
        geom([2, 2], (1, 3, 17), [5, 5], [1, 1], [1, 1], [3; 4], 2),
        geom([7, 6], (1, 5, 33), [3, 3], [2, 2], [1, 1], [1, 1, 1, 0], 1),
        geom([9, 8], (1, 3, 40), [3, 3], [1, 1], [2, 2], [0; 4], 1),
        // Depthwise: full blocks, a partial block, stride two, several filters per channel.
        geom([5, 4], (16, 1, 1), [3, 3], [1, 1], [1, 1], [1; 4], 1),
        geom([5, 4], (37, 1, 1), [3, 3], [1, 1], [1, 1], [1; 4], 1),
        geom([8, 8], (9, 1, 1), [3, 3], [2, 2], [1, 1], [1, 1, 0, 0], 2),
        geom([4, 4], (3, 1, 2), [3, 3], [1, 1], [1, 1], [1; 4], 1),
        // Two groups.
        geom([4, 4], (2, 3, 5), [3, 3], [1, 1], [1, 1], [1; 4], 1),
    ];
    for (i, g) in cases.iter().enumerate() {
        for style in 0..8 {
            check_conv(g, i as u64 * 31 + u64::from(style), style).unwrap();
        }
    }
}

#[test]
fn named_fully_connected_layers_equal_the_reference() {
    for (rows, inf, outf) in [(1, 0, 5), (1, 1, 1), (2, 9, 8), (1, 64, 33), (3, 17, 100)] {
        for style in 0..8 {
            check_dense(rows, inf, outf, u64::from(style), style).unwrap();
        }
    }
}

#[test]
fn packed_lengths_are_checked() {
    let g = geom([3, 3], (1, 2, 9), [1, 1], [1, 1], [1, 1], [0; 4], 1);
    assert_eq!(blocked_len(&g), Ok(16 * 2));
    let (input, bias, mut out) = (vec![0.0; 18], vec![0.0; 9], vec![0.0; 81]);
    let packed = vec![0.0; 32];
    let act = Activation::None;
    let run =
        |w: &[f32], out: &mut [f32]| conv::conv2d_f32_blocked(&g, act, &input, w, Some(&bias), out);
    assert!(run(&packed, &mut out).is_ok());
    // The reference length (9 * 2) is not the packed one.
    assert!(run(&packed[..18], &mut out).is_err());
    assert!(run(&packed[..31], &mut out).is_err());
}
