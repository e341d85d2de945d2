//! Models built in code for the export tests, so that every operator the exporter writes has
//! a model that produces it: a branchy convolutional network and a small sequence model.
//! Weights and data come from a seeded generator, so every run sees the same numbers.

use std::path::{Path, PathBuf};
use whittle::Tensor;
use whittle::onnx::build::{Attr, GraphBuilder};

/// A small deterministic generator for weights and inputs.
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// A float32 tensor uniform in [-scale, scale).
    pub fn tensor(&mut self, shape: &[usize], scale: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::f32(
            shape.to_vec(),
            (0..n).map(|_| scale * self.unit()).collect(),
        )
    }
}

/// A convolution with random weights and bias (`w` is `[out, in, k, k]`), padded to keep
/// the spatial size.
fn conv(g: &mut GraphBuilder, rng: &mut Lcg, x: &str, name: &str, w: [usize; 4]) -> String {
    // Scaled by fan-in so activations stay near unit range through the layers.
    let fan_in = (w[1] * w[2] * w[3]) as f32;
    let weights = g.constant(&format!("{name}.w"), &rng.tensor(&w, 1.5 / fan_in.sqrt()));
    let bias = g.constant(&format!("{name}.b"), &rng.tensor(&[w[0]], 0.2));
    let p = (w[2] / 2) as i64;
    g.node(
        "Conv",
        &[x, &weights, &bias],
        vec![("pads", Attr::Ints(vec![p; 4]))],
    )
}

fn save(g: GraphBuilder, dir: &Path, file: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

/// Input `x` `[1, 3, 16, 16]`, output `[1, 5]`: Conv+Relu, then a 1x1 Conv and a
/// Conv→Sigmoid added together (a residual-like join), concatenated along channels with a
/// Conv→Tanh branch, padded, sliced, global average pooled, flattened, a Gemm, scaled and
/// shifted by constants (Mul, Sub), Softmax.
pub fn branchy(dir: &Path) -> PathBuf {
    let mut rng = Lcg(2024);
    let mut g = GraphBuilder::new("branchy", 13);
    let x = g.input("x", &[1, 3, 16, 16]);
    let stem = conv(&mut g, &mut rng, &x, "stem", [8, 3, 3, 3]);
    let stem = g.node("Relu", &[&stem], vec![]);
    let plain = conv(&mut g, &mut rng, &stem, "plain", [8, 8, 1, 1]);
    let gate = conv(&mut g, &mut rng, &stem, "gate", [8, 8, 3, 3]);
    let gate = g.node("Sigmoid", &[&gate], vec![]);
    let sum = g.node("Add", &[&plain, &gate], vec![]);
    let side = conv(&mut g, &mut rng, &stem, "side", [4, 8, 1, 1]);
    let side = g.node("Tanh", &[&side], vec![]);
    let cat = g.node("Concat", &[&sum, &side], vec![("axis", Attr::Int(1))]);
    let pads = g.constant("pads", &Tensor::i64_vec(vec![0, 0, 1, 1, 0, 0, 1, 1]));
    let padded = g.node("Pad", &[&cat, &pads], vec![]);
    // Channels 2..10 of 12: a slice across the concatenation's seam.
    let starts = g.constant("starts", &Tensor::i64_vec(vec![2]));
    let ends = g.constant("ends", &Tensor::i64_vec(vec![10]));
    let axes = g.constant("axes", &Tensor::i64_vec(vec![1]));
    let sliced = g.node("Slice", &[&padded, &starts, &ends, &axes], vec![]);
    let pooled = g.node("GlobalAveragePool", &[&sliced], vec![]);
    let flat = g.node("Flatten", &[&pooled], vec![]);
    // Rows of zero mean: the pooled features share a large common part (every branch reads
    // the same stem), which would otherwise pick the same class for every sample.
    let w = rng.tensor(&[5, 8], 3.0).to_f32();
    let w: Vec<f32> = w
        .chunks(8)
        .flat_map(|row| {
            let mean = row.iter().sum::<f32>() / 8.0;
            row.iter().map(move |v| v - mean)
        })
        .collect();
    let w = g.constant("fc.w", &Tensor::f32(vec![5, 8], w));
    let b = g.constant("fc.b", &rng.tensor(&[5], 0.2));
    let fc = g.node("Gemm", &[&flat, &w, &b], vec![("transB", Attr::Int(1))]);
    let gain = g.constant(
        "gain",
        &Tensor::f32(vec![1, 5], vec![1.5, 0.75, 1.25, 1.0, 1.75]),
    );
    let scaled = g.node("Mul", &[&fc, &gain], vec![]);
    let shift = g.constant("shift", &rng.tensor(&[1, 5], 0.5));
    let logits = g.node("Sub", &[&scaled, &shift], vec![]);
    let probs = g.node("Softmax", &[&logits], vec![("axis", Attr::Int(1))]);
    g.output(&probs, &[1, 5]);
    save(g, dir, "branchy.onnx")
}

/// Input `x` `[1, 4, 6]`, output `[1, 6]`: the Gram matrix of the 6 positions (a MatMul of
/// the transposed input by the input, both computed at run time), a MatMul by a `[6, 5]`
/// constant plus a bias, Tanh, a global max pool over the positions (through a Transpose and
/// an Unsqueeze to `[1, 5, 6, 1]`) and a Gemm.
pub fn sequence(dir: &Path) -> PathBuf {
    let mut rng = Lcg(7);
    let mut g = GraphBuilder::new("sequence", 13);
    let x = g.input("x", &[1, 4, 6]);
    let t = g.node(
        "Transpose",
        &[&x],
        vec![("perm", Attr::Ints(vec![0, 2, 1]))],
    );
    let gram = g.node("MatMul", &[&t, &x], vec![]);
    let w = g.constant("proj.w", &rng.tensor(&[6, 5], 0.5));
    let y = g.node("MatMul", &[&gram, &w], vec![]);
    let b = g.constant("proj.b", &rng.tensor(&[5], 0.2));
    let y = g.node("Add", &[&y, &b], vec![]);
    let y = g.node("Tanh", &[&y], vec![]);
    let y = g.node(
        "Transpose",
        &[&y],
        vec![("perm", Attr::Ints(vec![0, 2, 1]))],
    );
    let axes = g.constant("axes", &Tensor::i64_vec(vec![3]));
    let y = g.node("Unsqueeze", &[&y, &axes], vec![]);
    let y = g.node("GlobalMaxPool", &[&y], vec![]);
    let y = g.node("Flatten", &[&y], vec![]);
    let w = g.constant("out.w", &rng.tensor(&[6, 5], 0.8));
    let b = g.constant("out.b", &rng.tensor(&[6], 0.2));
    let y = g.node("Gemm", &[&y, &w, &b], vec![("transB", Attr::Int(1))]);
    g.output(&y, &[1, 6]);
    save(g, dir, "sequence.onnx")
}

/// `count` samples of `shape` (the leading 1 replaced by `count`): noise uniform in
/// [-0.5, 0.5) around an offset per sample and channel (axis 1) uniform in [-1, 1). The
/// offsets survive global pooling, so the samples' classes differ.
pub fn samples(seed: u64, count: usize, shape: &[usize]) -> Tensor {
    let mut rng = Lcg(seed);
    let (channels, inner) = (shape[1], shape[2..].iter().product::<usize>());
    let mut data = Vec::with_capacity(count * channels * inner);
    for _ in 0..count * channels {
        let offset = rng.unit();
        data.extend((0..inner).map(|_| offset + 0.5 * rng.unit()));
    }
    let mut all = shape.to_vec();
    all[0] = count;
    Tensor::f32(all, data)
}

/// `x` written as `name.npz` (array `x`) in `dir`.
pub fn write_data(dir: &Path, name: &str, x: &Tensor) -> PathBuf {
    let path = dir.join(format!("{name}.npz"));
    whittle::data::write_npz(&path, &[("x".to_string(), x.clone())]).unwrap();
    path
}

/// Input `x` `[1, 2, 8, 8]`: a 1x1 Conv, then 3x3 average pooling with stride 2 in
/// `ceil_mode` (output 4x4 where floor rounding gives 3x3), flattened, a Gemm to `[1, 3]`.
pub fn ceil_avg_pool(dir: &Path) -> PathBuf {
    let mut rng = Lcg(5);
    let mut g = GraphBuilder::new("ceil_avg_pool", 13);
    let x = g.input("x", &[1, 2, 8, 8]);
    let y = conv(&mut g, &mut rng, &x, "c", [4, 2, 1, 1]);
    let y = g.node(
        "AveragePool",
        &[&y],
        vec![
            ("kernel_shape", Attr::Ints(vec![3, 3])),
            ("strides", Attr::Ints(vec![2, 2])),
            ("ceil_mode", Attr::Int(1)),
        ],
    );
    let y = g.node("Flatten", &[&y], vec![]);
    let w = g.constant("fc.w", &rng.tensor(&[3, 64], 0.3));
    let y = g.node("Gemm", &[&y, &w], vec![("transB", Attr::Int(1))]);
    g.output(&y, &[1, 3]);
    save(g, dir, "ceil_avg_pool.onnx")
}

/// Input `x` `[1, 4]` and outputs that are not plain operator results: `x` itself (by name,
/// no node in between), `same` (an `Identity` of `x`), `r` = Relu(x), which `s` =
/// Sigmoid(r) reads too, and `s`.
pub fn passthrough(dir: &Path) -> PathBuf {
    let mut g = GraphBuilder::new("passthrough", 13);
    let x = g.input("x", &[1, 4]);
    let same = g.node("Identity", &[&x], vec![]);
    let r = g.node("Relu", &[&x], vec![]);
    let s = g.node("Sigmoid", &[&r], vec![]);
    for name in [&x, &same, &r, &s] {
        g.output(name, &[1, 4]);
    }
    save(g, dir, "passthrough.onnx")
}
