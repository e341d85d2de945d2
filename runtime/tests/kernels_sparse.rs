//! The sparse int8 kernels equal the dense reference kernels bit for bit on the same weights:
//! random shapes (grouped, depthwise, padded, strided, dilated), weights from all zeros to
//! fully dense, rows of each kind in one tensor, extreme zero points and wrapping accumulators.

use proptest::prelude::*;
use whittle_runtime::format::ConvGeometry;
use whittle_runtime::kernels::Variant;
use whittle_runtime::kernels::conv::{QuantOut, conv2d_i8_variant};
use whittle_runtime::kernels::dense::{DenseShape, dense_i8_variant};
use whittle_runtime::kernels::sparse::{SparseWeights, conv2d_i8_sparse, dense_i8_sparse};

/// splitmix64: a case's data follows from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn int8(&mut self) -> i8 {
        match self.next() % 8 {
            0 => -128,
            1 => 127,
            _ => self.range(-128, 127) as i8,
        }
    }

    /// `rows` rows of `row_len` weights: per row all zeros, fully dense (no zero) or zero
    /// with probability `density_percent` out of 100.
    fn weights(&mut self, rows: usize, row_len: usize, zero_percent: u64) -> Vec<i8> {
        let mut w = Vec::with_capacity(rows * row_len);
        for _ in 0..rows {
            let kind = self.next() % 4;
            for _ in 0..row_len {
                let v = match kind {
                    0 => 0,
                    1 => self.range(-127, 127).max(1) as i8,
                    _ if self.next() % 100 < zero_percent => 0,
                    _ => self.range(-127, 127) as i8,
                };
                w.push(v);
            }
        }
        w
    }
}

/// The encoding `whittle compile` writes: bitmap rows padded to bytes, values, offsets.
struct Encoded {
    values: Vec<i8>,
    bitmap: Vec<u8>,
    offsets: Vec<u32>,
}

fn encode(w: &[i8], rows: usize, row_len: usize) -> Encoded {
    let row_bytes = row_len.div_ceil(8);
    let mut e = Encoded {
        values: Vec::new(),
        bitmap: vec![0; rows * row_bytes],
        offsets: vec![0],
    };
    for r in 0..rows {
        for i in 0..row_len {
            let v = w[r * row_len + i];
            if v != 0 {
                e.bitmap[r * row_bytes + i / 8] |= 1 << (i % 8);
                e.values.push(v);
            }
        }
        e.offsets.push(e.values.len() as u32);
    }
    e
}

impl Encoded {
    fn weights(&self) -> SparseWeights<'_> {
        SparseWeights {
            values: &self.values,
            bitmap: &self.bitmap,
            offsets: &self.offsets,
        }
    }
}

/// Requantization: per channel or per tensor, multipliers anywhere in Q31, shifts -10..=4.
fn requant(rng: &mut Rng, channels: usize) -> (Vec<i32>, Vec<i8>) {
    let n = if rng.next().is_multiple_of(2) {
        1
    } else {
        channels
    };
    let m = (0..n)
        .map(|_| rng.range(1 << 30, i64::from(i32::MAX)) as i32)
        .collect();
    let s = (0..n).map(|_| rng.range(-10, 4) as i8).collect();
    (m, s)
}

#[derive(Debug, Clone)]
struct ConvCase {
    geom: ConvGeometry,
    seed: u64,
    zero_percent: u64,
}

fn conv_case() -> impl Strategy<Value = ConvCase> {
    (
        (1u32..=2, 1u32..=4, 1u32..=4, 0u8..3),
        (
            [1u32..=7, 1u32..=7],
            [1u32..=3, 1u32..=3],
            [1u32..=2, 1u32..=2],
        ),
        (
            [1u32..=2, 1u32..=2],
            [0u32..=2, 0u32..=2, 0u32..=2, 0u32..=2],
        ),
        (
            any::<u64>(),
            prop_oneof![Just(0u64), Just(50), Just(90), Just(100)],
        ),
    )
        .prop_filter_map(
            "window larger than the padded input",
            |((batch, ipg, opg, grouping), (hw, k, s), (d, p), (seed, zero_percent))| {
                // grouping 0: one group; 1: depthwise; 2: a few groups.
                let groups = match grouping {
                    0 => 1,
                    1 => ipg * 2,
                    _ => 2,
                };
                let (in_c, out_c) = if grouping == 1 {
                    (groups, groups)
                } else {
                    (ipg * groups, opg * groups)
                };
                let out = |size: u32, pads: u32, k: u32, s: u32, d: u32| {
                    let extent = d * (k - 1) + 1;
                    (size + pads).checked_sub(extent).map(|v| v / s + 1)
                };
                let out_h = out(hw[0], p[0] + p[2], k[0], s[0], d[0])?;
                let out_w = out(hw[1], p[1] + p[3], k[1], s[1], d[1])?;
                Some(ConvCase {
                    geom: ConvGeometry {
                        batch,
                        in_h: hw[0],
                        in_w: hw[1],
                        in_c,
                        out_h,
                        out_w,
                        out_c,
                        kernel_h: k[0],
                        kernel_w: k[1],
                        stride_h: s[0],
                        stride_w: s[1],
                        dilation_h: d[0],
                        dilation_w: d[1],
                        pad_top: p[0],
                        pad_left: p[1],
                        pad_bottom: p[2],
                        pad_right: p[3],
                        groups,
                    },
                    seed,
                    zero_percent,
                })
            },
        )
}

fn check_conv(c: &ConvCase) {
    let g = &c.geom;
    let mut rng = Rng(c.seed);
    let row_len = (g.kernel_h * g.kernel_w * g.in_c / g.groups) as usize;
    let rows = g.out_c as usize;
    let w = rng.weights(rows, row_len, c.zero_percent);
    let input: Vec<i8> = (0..g.batch * g.in_h * g.in_w * g.in_c)
        .map(|_| rng.int8())
        .collect();
    let bias: Option<Vec<i32>> = (rng.next().is_multiple_of(2)).then(|| {
        (0..rows)
            .map(|_| rng.range(-(1 << 20), 1 << 20) as i32)
            .collect()
    });
    let (m, s) = requant(&mut rng, rows);
    let q = QuantOut {
        input_zp: rng.range(-128, 127) as i32,
        output_zp: rng.range(-128, 127) as i32,
        multipliers: &m,
        shifts: &s,
        act_min: -128,
        act_max: rng.range(0, 127) as i8,
    };
    let out_len = (g.batch * g.out_h * g.out_w * g.out_c) as usize;
    let mut dense = vec![0i8; out_len];
    let mut sparse = vec![1i8; out_len];
    let bias = bias.as_deref();
    conv2d_i8_variant(Variant::Reference, g, &q, &input, &w, bias, &mut dense).unwrap();
    let e = encode(&w, rows, row_len);
    conv2d_i8_sparse(g, &q, &input, &e.weights(), bias, &mut sparse).unwrap();
    assert_eq!(dense, sparse, "{c:?}");
}

fn check_dense(rows: u32, in_f: u32, out_f: u32, seed: u64, zero_percent: u64) {
    let mut rng = Rng(seed);
    let w = rng.weights(out_f as usize, in_f as usize, zero_percent);
    let input: Vec<i8> = (0..rows * in_f).map(|_| rng.int8()).collect();
    let bias: Vec<i32> = (0..out_f)
        .map(|_| rng.range(-(1 << 20), 1 << 20) as i32)
        .collect();
    let (m, s) = requant(&mut rng, out_f as usize);
    let q = QuantOut {
        input_zp: rng.range(-128, 127) as i32,
        output_zp: rng.range(-128, 127) as i32,
        multipliers: &m,
        shifts: &s,
        act_min: -128,
        act_max: 127,
    };
    let shape = DenseShape {
        rows,
        in_features: in_f,
        out_features: out_f,
    };
    let mut dense = vec![0i8; (rows * out_f) as usize];
    let mut sparse = vec![1i8; (rows * out_f) as usize];
    dense_i8_variant(
        Variant::Reference,
        shape,
        &q,
        &input,
        &w,
        Some(&bias),
        &mut dense,
    )
    .unwrap();
    let e = encode(&w, out_f as usize, in_f as usize);
    dense_i8_sparse(shape, &q, &input, &e.weights(), Some(&bias), &mut sparse).unwrap();
    assert_eq!(dense, sparse);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(miri) { 4 } else { 1000 }))]

    #[test]
    fn sparse_conv_equals_dense_reference(c in conv_case()) {
        check_conv(&c);
    }

    #[test]
    fn sparse_dense_equals_dense_reference(
        rows in 1u32..=3,
        in_f in 1u32..=70,
        out_f in 1u32..=20,
        seed in any::<u64>(),
        zero_percent in prop_oneof![Just(0u64), Just(50), Just(90), Just(100)],
    ) {
        check_dense(rows, in_f, out_f, seed, zero_percent);
    }
}

#[test]
fn accumulators_that_wrap_agree() {
    // 4096 products of -128 * -127 (input zero point 127 makes x - zp = -255) overflow i32
    // only with a large bias; both kernels wrap the same way.
    let in_f = 4096;
    let w = vec![-127i8; in_f];
    let input = vec![-128i8; in_f];
    let bias = [i32::MAX - 10];
    let (m, s) = (vec![1 << 30], vec![0i8]);
    let q = QuantOut {
        input_zp: 127,
        output_zp: 0,
        multipliers: &m,
        shifts: &s,
        act_min: -128,
        act_max: 127,
    };
    let shape = DenseShape {
        rows: 1,
        in_features: in_f as u32,
        out_features: 1,
    };
    let (mut a, mut b) = ([0i8], [0i8]);
    dense_i8_variant(
        Variant::Reference,
        shape,
        &q,
        &input,
        &w,
        Some(&bias),
        &mut a,
    )
    .unwrap();
    let e = encode(&w, 1, in_f);
    dense_i8_sparse(shape, &q, &input, &e.weights(), Some(&bias), &mut b).unwrap();
    assert_eq!(a, b);
}

#[test]
fn inconsistent_lengths_are_an_error_not_a_panic() {
    let e = encode(&[1, 0, 2, 0], 2, 2);
    let (m, s) = (vec![1 << 30], vec![0i8]);
    let q = QuantOut {
        input_zp: 0,
        output_zp: 0,
        multipliers: &m,
        shifts: &s,
        act_min: -128,
        act_max: 127,
    };
    let shape = DenseShape {
        rows: 1,
        in_features: 2,
        out_features: 3,
    };
    let mut y = [0i8; 3];
    assert!(dense_i8_sparse(shape, &q, &[1, 2], &e.weights(), None, &mut y).is_err());
    // Values shorter than the bitmap says: missing values contribute nothing.
    let short = SparseWeights {
        values: &[],
        ..e.weights()
    };
    let shape = DenseShape {
        out_features: 2,
        ..shape
    };
    let mut y = [0i8; 2];
    dense_i8_sparse(shape, &q, &[1, 2], &short, None, &mut y).unwrap();
    assert_eq!(y, [0, 0]);
}
