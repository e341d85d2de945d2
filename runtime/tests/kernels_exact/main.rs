//! Every int8 convolution and fully connected variant this target runs equals the reference
//! bit for bit: on random shapes (proptest) and on named edge cases (channels not a multiple
//! of four, 1x1 spatial, padding everywhere, strides, dilations, groups, per-tensor and
//! per-channel multipliers, extreme zero points, accumulators that wrap).

use proptest::prelude::*;
use whittle_runtime::format::ConvGeometry;
use whittle_runtime::kernels::Variant;
use whittle_runtime::kernels::conv::{QuantOut, conv2d_i8_variant};
use whittle_runtime::kernels::dense::{DenseShape, dense_i8_variant};

/// Random cases per operator: thousands natively, a handful under Miri, which interprets
/// every instruction.
const CASES: u32 = if cfg!(miri) { 6 } else { 2000 };

/// splitmix64: the data of a case follows from its seed, so a shrunk case prints small.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// int8 values, extremes over-represented.
    fn bytes(&mut self, n: usize, lo: i8) -> Vec<i8> {
        (0..n)
            .map(|_| match self.next() % 8 {
                0 => lo,
                1 => 127,
                _ => self.range(i64::from(lo), 127) as i8,
            })
            .collect()
    }
}

/// Requantization and zero points of one case, owned.
#[derive(Debug, Clone)]
struct Quant {
    input_zp: i32,
    output_zp: i32,
    multipliers: Vec<i32>,
    shifts: Vec<i8>,
    act: (i8, i8),
    bias: Option<Vec<i32>>,
}

impl Quant {
    /// Per-channel or per-tensor parameters for `channels` outputs; the zero points and
    /// activation range lean towards their extremes.
    fn random(rng: &mut Rng, channels: usize, style: u8) -> Self {
        let zp = |rng: &mut Rng| match rng.next() % 4 {
            0 => -128,
            1 => 127,
            _ => rng.range(-128, 127) as i32,
        };
        let n = if style & 1 == 0 { 1 } else { channels };
        // Mostly small biases, so that outputs land inside the int8 range and a wrong
        // accumulator shows; now and then accumulators that wrap or saturate.
        let bias = match (style >> 4) & 7 {
            0 => None,
            1..=5 => Some(
                (0..channels)
                    .map(|_| rng.range(-40_000, 40_000) as i32)
                    .collect(),
            ),
            // Near the int32 limits: the accumulator wraps.
            6 => Some((0..channels).map(|_| rng.next() as i32).collect()),
            _ => Some(vec![i32::MAX; channels]),
        };
        let act = if style & 8 == 0 {
            (-128, 127)
        } else {
            let a = rng.range(-128, 127) as i8;
            let b = rng.range(-128, 127) as i8;
            (a.min(b), a.max(b))
        };
        Self {
            input_zp: zp(rng),
            output_zp: zp(rng),
            multipliers: (0..n)
                .map(|_| rng.range(1 << 30, i64::from(i32::MAX)) as i32)
                .collect(),
            // Mostly the shifts that map int8 dot products to int8 outputs (a wrong accumulator
            // changes the result), sometimes any.
            shifts: (0..n)
                .map(|_| {
                    if rng.next().is_multiple_of(8) {
                        rng.range(-14, 3) as i8
                    } else {
                        rng.range(-11, -4) as i8
                    }
                })
                .collect(),
            act,
            bias,
        }
    }

    fn out(&self) -> QuantOut<'_> {
        QuantOut {
            input_zp: self.input_zp,
            output_zp: self.output_zp,
            multipliers: &self.multipliers,
            shifts: &self.shifts,
            act_min: self.act.0,
            act_max: self.act.1,
        }
    }
}

/// One convolution: its geometry and its data.
#[derive(Debug, Clone)]
struct ConvCase {
    geom: ConvGeometry,
    quant: Quant,
    input: Vec<i8>,
    weights: Vec<i8>,
}

/// The shape parameters proptest draws and shrinks; the data follows from `seed`.
#[derive(Debug, Clone, Copy)]
struct ConvParams {
    batch: u32,
    /// 0: one group; 1: depthwise; 2: depthwise, two filters per channel; 3: 2 or 3 groups.
    grouping: u8,
    in_per_group: u32,
    out_per_group: u32,
    spatial: [u32; 2],
    kernel: [u32; 2],
    stride: [u32; 2],
    dilation: [u32; 2],
    /// Top, left, bottom, right.
    pads: [u32; 4],
    style: u8,
    seed: u64,
}

impl ConvParams {
    fn case(self) -> ConvCase {
        let p = self;
        let groups = match p.grouping {
            0 => 1,
            1 | 2 => p.in_per_group.max(2),
            _ => 2 + (p.seed % 2) as u32,
        };
        let (in_per_group, out_per_group) = match p.grouping {
            1 => (1, 1),
            2 => (1, 2),
            _ => (p.in_per_group, p.out_per_group),
        };
        let out_len = |input: u32, k: u32, s: u32, d: u32, before: u32, after: &mut u32| {
            let span = d * (k - 1) + 1;
            // Enough padding after for one output at least.
            *after = (*after).max(span.saturating_sub(input + before));
            (input + before + *after - span) / s + 1
        };
        let [mut pad_top, mut pad_left, mut pad_bottom, mut pad_right] = p.pads;
        pad_top = pad_top.min(p.dilation[0] * (p.kernel[0] - 1));
        pad_left = pad_left.min(p.dilation[1] * (p.kernel[1] - 1));
        let [in_h, in_w] = p.spatial;
        let out_h = out_len(
            in_h,
            p.kernel[0],
            p.stride[0],
            p.dilation[0],
            pad_top,
            &mut pad_bottom,
        );
        let out_w = out_len(
            in_w,
            p.kernel[1],
            p.stride[1],
            p.dilation[1],
            pad_left,
            &mut pad_right,
        );
        let geom = ConvGeometry {
            batch: p.batch,
            in_h,
            in_w,
            in_c: in_per_group * groups,
            out_h,
            out_w,
            out_c: out_per_group * groups,
            kernel_h: p.kernel[0],
            kernel_w: p.kernel[1],
            stride_h: p.stride[0],
            stride_w: p.stride[1],
            dilation_h: p.dilation[0],
            dilation_w: p.dilation[1],
            pad_top,
            pad_left,
            pad_bottom,
            pad_right,
            groups,
        };
        ConvCase::random(geom, p.style, p.seed)
    }
}

impl ConvCase {
    fn random(geom: ConvGeometry, style: u8, seed: u64) -> Self {
        let g = geom;
        let mut rng = Rng(seed);
        let input_len = (g.batch * g.in_h * g.in_w * g.in_c) as usize;
        let weights_len = (g.out_c * g.kernel_h * g.kernel_w * (g.in_c / g.groups)) as usize;
        // Weights are symmetric int8 ([-127, 127]) except in some cases, where -128 appears.
        let lowest = if style & 16 == 0 { -127 } else { -128 };
        Self {
            quant: Quant::random(&mut rng, g.out_c as usize, style),
            input: rng.bytes(input_len, -128),
            weights: rng.bytes(weights_len, lowest),
            geom,
        }
    }

    fn run(&self, variant: Variant) -> Vec<i8> {
        let g = &self.geom;
        let mut out = vec![0x55; (g.batch * g.out_h * g.out_w * g.out_c) as usize];
        conv2d_i8_variant(
            variant,
            g,
            &self.quant.out(),
            &self.input,
            &self.weights,
            self.quant.bias.as_deref(),
            &mut out,
        )
        .expect("consistent lengths");
        out
    }
}

/// One fully connected layer and its data.
#[derive(Debug, Clone)]
struct DenseCase {
    shape: DenseShape,
    quant: Quant,
    input: Vec<i8>,
    weights: Vec<i8>,
}

impl DenseCase {
    fn random(rows: u32, in_features: u32, out_features: u32, style: u8, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let lowest = if style & 16 == 0 { -127 } else { -128 };
        Self {
            shape: DenseShape {
                rows,
                in_features,
                out_features,
            },
            quant: Quant::random(&mut rng, out_features as usize, style),
            input: rng.bytes((rows * in_features) as usize, -128),
            weights: rng.bytes((out_features * in_features) as usize, lowest),
        }
    }

    fn run(&self, variant: Variant) -> Vec<i8> {
        let mut out = vec![0x55; (self.shape.rows * self.shape.out_features) as usize];
        dense_i8_variant(
            variant,
            self.shape,
            &self.quant.out(),
            &self.input,
            &self.weights,
            self.quant.bias.as_deref(),
            &mut out,
        )
        .expect("consistent lengths");
        out
    }
}

/// Channel counts around the SIMD widths (4, 8, 16, 32 lanes): every tail length shows.
#[cfg(not(miri))]
const TAIL_CHANNELS: [u32; 6] = [1, 7, 15, 17, 31, 33];
/// Under Miri, one channel count below the SIMD width and one past it.
#[cfg(miri)]
const TAIL_CHANNELS: [u32; 2] = [1, 17];

/// How extreme data is drawn.
#[derive(Debug, Clone, Copy)]
enum Extreme {
    /// Inputs -128, input zero point 127, weights -128: every product is +32640, the largest.
    MaxProducts,
    /// Inputs -128, input zero point 127, weights 127: every product is -32385.
    MinProducts,
    /// Inputs and weights each -128 or 127 at random, input zero point -128.
    Mixed,
    /// As `MaxProducts`, with an `i32::MAX` bias: the accumulator wraps.
    Wraps,
}

impl Extreme {
    const ALL: [Extreme; 4] = [
        Extreme::MaxProducts,
        Extreme::MinProducts,
        Extreme::Mixed,
        Extreme::Wraps,
    ];

    /// Inputs, weights and the input zero point.
    fn data(self, rng: &mut Rng, inputs: usize, weights: usize) -> (Vec<i8>, Vec<i8>, i32) {
        let mut either = |n: usize| -> Vec<i8> {
            (0..n)
                .map(|_| {
                    if rng.next().is_multiple_of(2) {
                        -128
                    } else {
                        127
                    }
                })
                .collect()
        };
        match self {
            Extreme::MaxProducts | Extreme::Wraps => (vec![-128; inputs], vec![-128; weights], 127),
            Extreme::MinProducts => (vec![-128; inputs], vec![127; weights], 127),
            Extreme::Mixed => (either(inputs), either(weights), -128),
        }
    }

    /// Requantization that maps the largest possible sum of `terms` products (plus the bias)
    /// onto int8, so that an accumulator off by one product changes the output.
    fn quant(self, input_zp: i32, channels: usize, terms: usize) -> Quant {
        let largest = 32640u64 * terms.max(1) as u64;
        let mut shift = 0;
        while (largest >> shift) > 254 {
            shift += 1;
        }
        Quant {
            input_zp,
            output_zp: 0,
            multipliers: vec![1 << 30],
            shifts: vec![-shift],
            act: (-128, 127),
            bias: match self {
                Extreme::Wraps => Some(vec![i32::MAX; channels]),
                _ => Some((0..channels as i32).map(|c| c * 1000 - 7000).collect()),
            },
        }
    }
}

impl ConvCase {
    /// `geom` with extreme data.
    fn extreme(geom: ConvGeometry, extreme: Extreme, seed: u64) -> Self {
        let g = geom;
        let filter = (g.kernel_h * g.kernel_w * (g.in_c / g.groups)) as usize;
        let input_len = (g.batch * g.in_h * g.in_w * g.in_c) as usize;
        let (input, weights, zp) =
            extreme.data(&mut Rng(seed), input_len, filter * g.out_c as usize);
        Self {
            quant: extreme.quant(zp, g.out_c as usize, filter),
            input,
            weights,
            geom,
        }
    }
}

impl DenseCase {
    /// A layer with extreme data.
    fn extreme(rows: u32, in_features: u32, out_features: u32, extreme: Extreme) -> Self {
        let (i, o) = (in_features as usize, out_features as usize);
        let (input, weights, zp) = extreme.data(&mut Rng((i * o) as u64), rows as usize * i, o * i);
        Self {
            shape: DenseShape {
                rows,
                in_features,
                out_features,
            },
            quant: extreme.quant(zp, o, i),
            input,
            weights,
        }
    }
}

/// Every variant runs on this machine: a `std` build on an x86_64 CPU with AVX2 tests the
/// AVX2 kernels (and runs them in the interpreter), and the `VPDPBUSD` ones where the CPU has
/// AVX-VNNI or AVX512-VNNI with AVX512-VL, an AArch64 build the NEON ones (and the
/// `SDOT` ones with `-C target-feature=+dotprod`). Without `std` (`cargo test -p
/// whittle-runtime` alone) they are only compiled with `-C target-feature=+avx2`.
#[test]
fn the_fastest_variant_is_tested() {
    let names: Vec<_> = Variant::ALL.iter().map(|v| v.name()).collect();
    eprintln!(
        "variants tested: {names:?}; the interpreter runs {}",
        Variant::selected().name()
    );
    assert!(Variant::ALL.contains(&Variant::selected()));
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    if std::is_x86_feature_detected!("avx2") {
        let vnni = std::is_x86_feature_detected!("avxvnni")
            || (std::is_x86_feature_detected!("avx512vnni")
                && std::is_x86_feature_detected!("avx512vl"));
        assert!(names.contains(&"avx2"), "{names:?}");
        assert!(names.contains(&"avx-vnni"), "{names:?}");
        for v in Variant::ALL {
            assert_eq!(
                v.is_native(),
                v.name() != "avx-vnni" || vnni,
                "{}",
                v.name()
            );
        }
        if cfg!(feature = "fast-kernels") {
            let fastest = if vnni { "avx-vnni" } else { "avx2" };
            assert_eq!(Variant::selected().name(), fastest);
        }
    }
    // On AArch64 the NEON variant is always compiled, the `SDOT` one with `+dotprod`.
    #[cfg(target_arch = "aarch64")]
    {
        let dot = cfg!(target_feature = "dotprod");
        assert!(names.contains(&"neon"), "{names:?}");
        assert_eq!(names.contains(&"neon-dot"), dot, "{names:?}");
        if cfg!(feature = "fast-kernels") {
            let fastest = if dot { "neon-dot" } else { "neon" };
            assert_eq!(Variant::selected().name(), fastest);
        }
    }
}

/// For one operator: a proptest over random cases and named edge cases, each asserting that
/// every variant of [`Variant::ALL`] gives the reference's output bit for bit.
macro_rules! every_variant_matches_reference {
    (
        random: $strategy:expr,
        edge_cases: { $($name:ident => $case:expr,)* }
    ) => {
        fn assert_exact<C: core::fmt::Debug>(case: &C, run: impl Fn(&C, Variant) -> Vec<i8>) {
            let expected = run(case, Variant::Reference);
            for &variant in Variant::ALL {
                let got = run(case, variant);
                assert!(
                    got == expected,
                    "{variant:?} differs from the reference\n got {got:?}\nwant {expected:?}\n{case:?}"
                );
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]
            #[test]
            fn random_cases(case in $strategy) {
                assert_exact(&case, |c, v| c.run(v));
            }
        }

        $(
            #[test]
            fn $name() {
                let case = $case;
                assert_exact(&case, |c, v| c.run(v));
            }
        )*
    };
}

/// A convolution geometry; unlisted fields default to 1 (strides, dilations, groups, batch)
/// or 0 (padding).
#[allow(clippy::too_many_arguments)]
fn geom(
    [in_h, in_w, in_c]: [u32; 3],
    [out_h, out_w, out_c]: [u32; 3],
    [kernel_h, kernel_w]: [u32; 2],
    [stride_h, stride_w]: [u32; 2],
    [dilation_h, dilation_w]: [u32; 2],
    [pad_top, pad_left, pad_bottom, pad_right]: [u32; 4],
    groups: u32,
) -> ConvGeometry {
    ConvGeometry {
        batch: 1,
        in_h,
        in_w,
        in_c,
        out_h,
        out_w,
        out_c,
        kernel_h,
        kernel_w,
        stride_h,
        stride_w,
        dilation_h,
        dilation_w,
        pad_top,
        pad_left,
        pad_bottom,
        pad_right,
        groups,
    }
}

mod binary;
mod conv;
mod dense;
mod widened;
