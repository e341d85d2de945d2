//! Models the pruning tests run on: the bundled example and graphs built in code.

use std::path::{Path, PathBuf};
use whittle::Tensor;
use whittle::onnx::build::{Attr, GraphBuilder};

pub(crate) fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture")
}

/// A tiny deterministic generator for weights and inputs.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub(crate) fn tensor(&mut self, shape: &[usize], scale: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::f32(
            shape.to_vec(),
            (0..n).map(|_| scale * self.unit()).collect(),
        )
    }
}

/// Conv -> BatchNorm -> Relu with random parameters.
pub(crate) fn conv_bn_relu(
    g: &mut GraphBuilder,
    rng: &mut Lcg,
    x: &str,
    name: &str,
    shape: [usize; 4],
    group: usize,
) -> String {
    let out = shape[0];
    let w = g.constant(&format!("{name}.w"), &rng.tensor(&shape, 0.5));
    let y = g.node(
        "Conv",
        &[x, &w],
        vec![
            ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ("group", Attr::Int(group as i64)),
        ],
    );
    let gamma = Tensor::f32(
        vec![out],
        (0..out).map(|_| 1.0 + 0.5 * rng.unit()).collect(),
    );
    let var = Tensor::f32(
        vec![out],
        (0..out).map(|_| 1.0 + 0.5 * rng.unit()).collect(),
    );
    let gamma = g.constant(&format!("{name}.gamma"), &gamma);
    let beta = g.constant(&format!("{name}.beta"), &rng.tensor(&[out], 0.3));
    let mean = g.constant(&format!("{name}.mean"), &rng.tensor(&[out], 0.3));
    let var = g.constant(&format!("{name}.var"), &var);
    let y = g.node(
        "BatchNormalization",
        &[&y, &gamma, &beta, &mean, &var],
        vec![("epsilon", Attr::Float(1e-5))],
    );
    g.node("Relu", &[&y], vec![])
}

/// A residual block whose sum feeds a depthwise branch and a 1x1 branch joined by Concat, then
/// a per-channel scale, a strided Conv, a Reshape to rows, Gemm -> Relu -> MatMul + Add:
/// every coupling the pruner must follow. Input `[1, 3, 8, 8]`, output `[1, 5]`.
pub(crate) fn residual_concat(dir: &Path) -> PathBuf {
    let mut rng = Lcg(11);
    let mut g = GraphBuilder::new("residual_concat", 13);
    let x = g.input("x", &[1, 3, 8, 8]);
    let a = conv_bn_relu(&mut g, &mut rng, &x, "stem", [8, 3, 3, 3], 1);
    let b = conv_bn_relu(&mut g, &mut rng, &a, "block", [8, 8, 3, 3], 1);
    let sum = g.node("Add", &[&a, &b], vec![]);
    let dw = conv_bn_relu(&mut g, &mut rng, &sum, "dw", [8, 1, 3, 3], 8);
    let w = g.constant("side.w", &rng.tensor(&[6, 8, 1, 1], 0.5));
    let bias = g.constant("side.b", &rng.tensor(&[6], 0.2));
    let side = g.node("Conv", &[&sum, &w, &bias], vec![]);
    let cat = g.node("Concat", &[&dw, &side], vec![("axis", Attr::Int(1))]);
    let scale = Tensor::f32(
        vec![1, 14, 1, 1],
        (0..14).map(|i| 0.5 + i as f32 / 14.0).collect(),
    );
    let scale = g.constant("cat.scale", &scale);
    let scaled = g.node("Mul", &[&cat, &scale], vec![]);
    let w = g.constant("head.w", &rng.tensor(&[10, 14, 3, 3], 0.3));
    let bias = g.constant("head.b", &rng.tensor(&[10], 0.2));
    let head = g.node(
        "Conv",
        &[&scaled, &w, &bias],
        vec![
            ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    let head = g.node("Relu", &[&head], vec![]);
    let shape = g.constant("rows", &Tensor::i64_vec(vec![1, 160]));
    let rows = g.node("Reshape", &[&head, &shape], vec![]);
    let w = g.constant("fc.w", &rng.tensor(&[12, 160], 0.2));
    let bias = g.constant("fc.b", &rng.tensor(&[12], 0.2));
    let fc = g.node("Gemm", &[&rows, &w, &bias], vec![("transB", Attr::Int(1))]);
    let fc = g.node("Relu", &[&fc], vec![]);
    let w = g.constant("out.w", &rng.tensor(&[12, 5], 0.5));
    let y = g.node("MatMul", &[&fc, &w], vec![]);
    let bias = g.constant("out.b", &rng.tensor(&[5], 0.2));
    let y = g.node("Add", &[&y, &bias], vec![]);
    g.output(&y, &[1, 5]);
    let path = dir.join("residual_concat.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

pub(crate) fn gesture_inputs() -> Vec<Tensor> {
    let arrays = whittle::data::read_arrays(&example().join("data/val.npz")).unwrap();
    let x = &arrays.iter().find(|(n, _)| n == "x").unwrap().1;
    (0..6)
        .map(|i| {
            let row = x.rows(i * 40, i * 40 + 1);
            Tensor::f32(row.shape.clone(), row.to_f32())
        })
        .collect()
}

pub(crate) fn fixture_inputs(count: usize) -> Vec<Tensor> {
    let mut rng = Lcg(99);
    (0..count).map(|_| rng.tensor(&[1, 3, 8, 8], 1.0)).collect()
}

/// Conv (4 channels, channel `k` scaled by `k + 1`) -> BatchNorm (gamma reversed: 4, 3, 2, 1)
/// -> Relu -> Conv: the weight norms and the BN scales disagree on which channels matter.
pub(crate) fn ranked_model(dir: &Path) -> PathBuf {
    let mut g = GraphBuilder::new("ranked", 13);
    let x = g.input("x", &[1, 2, 3, 3]);
    let w: Vec<f32> = (0..8).map(|i| (i / 2 + 1) as f32 * 0.25).collect();
    let w = g.constant("a.w", &Tensor::f32(vec![4, 2, 1, 1], w));
    let a = g.node("Conv", &[&x, &w], vec![]);
    let gamma = g.constant("bn.gamma", &Tensor::f32(vec![4], vec![4.0, 3.0, 2.0, 1.0]));
    let beta = g.constant("bn.beta", &Tensor::f32(vec![4], vec![0.1; 4]));
    let mean = g.constant("bn.mean", &Tensor::f32(vec![4], vec![0.0; 4]));
    let var = g.constant("bn.var", &Tensor::f32(vec![4], vec![1.0; 4]));
    let a = g.node(
        "BatchNormalization",
        &[&a, &gamma, &beta, &mean, &var],
        vec![],
    );
    let a = g.node("Relu", &[&a], vec![]);
    let w = g.constant("b.w", &Tensor::f32(vec![1, 4, 1, 1], vec![1.0; 4]));
    let y = g.node("Conv", &[&a, &w], vec![]);
    g.output(&y, &[1, 1, 3, 3]);
    let path = dir.join("ranked.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}
