//! ONNX fixtures built in code: small models covering the layouts and graph shapes whittle
//! must handle (TFLite-style NHWC, PyTorch-style NCHW with batch norm, residual and
//! concatenation branches, MLPs).

use whittle::Tensor;
use whittle::onnx::build::{Attr, GraphBuilder};

/// Deterministic pseudo-random floats in `[-scale, scale)` (xorshift).
pub fn noise(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

fn weights(g: &mut GraphBuilder, name: &str, shape: &[usize], seed: u64, scale: f32) -> String {
    let n = shape.iter().product();
    g.constant(name, &Tensor::f32(shape.to_vec(), noise(seed, n, scale)))
}

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

/// A TFLite export: NHWC input, Transpose to NCHW, convolutions (regular, depthwise with
/// ReLU6 as Clip), max pooling, Transpose back, Reshape, MatMul + Add head, Softmax.
pub fn tflite_style() -> Vec<u8> {
    let mut g = GraphBuilder::new("tflite_style", 13);
    let x = g.input("input", &[-1, 12, 10, 3]);
    let t = g.node("Transpose", &[&x], vec![("perm", ints(&[0, 3, 1, 2]))]);
    let w1 = weights(&mut g, "w1", &[8, 3, 3, 3], 1, 0.5);
    let b1 = weights(&mut g, "b1", &[8], 2, 0.1);
    let c1 = g.node(
        "Conv",
        &[&t, &w1, &b1],
        vec![("pads", ints(&[1, 1, 1, 1])), ("strides", ints(&[1, 1]))],
    );
    let r1 = g.node("Relu", &[&c1], vec![]);
    let w2 = weights(&mut g, "w2", &[8, 1, 3, 3], 3, 0.5);
    let b2 = weights(&mut g, "b2", &[8], 4, 0.1);
    let c2 = g.node(
        "Conv",
        &[&r1, &w2, &b2],
        vec![
            ("group", Attr::Int(8)),
            ("pads", ints(&[0, 0, 1, 1])),
            ("strides", ints(&[2, 2])),
        ],
    );
    let lo = g.constant("zero", &Tensor::f32(vec![], vec![0.0]));
    let hi = g.constant("six", &Tensor::f32(vec![], vec![6.0]));
    let r2 = g.node("Clip", &[&c2, &lo, &hi], vec![]);
    let p = g.node(
        "MaxPool",
        &[&r2],
        vec![("kernel_shape", ints(&[2, 2])), ("strides", ints(&[2, 2]))],
    );
    let back = g.node("Transpose", &[&p], vec![("perm", ints(&[0, 2, 3, 1]))]);
    let shape = g.constant("flat", &Tensor::i64_vec(vec![-1, 3 * 2 * 8]));
    let flat = g.node("Reshape", &[&back, &shape], vec![]);
    let w3 = weights(&mut g, "w3", &[48, 5], 5, 0.3);
    let mm = g.node("MatMul", &[&flat, &w3], vec![]);
    let b3 = weights(&mut g, "b3", &[5], 6, 0.1);
    let add = g.node("Add", &[&mm, &b3], vec![]);
    let out = g.node("Softmax", &[&add], vec![("axis", Attr::Int(-1))]);
    g.output(&out, &[-1, 5]);
    g.to_bytes()
}

fn conv_bn_relu(
    g: &mut GraphBuilder,
    x: &str,
    name: &str,
    cin: usize,
    cout: usize,
    k: usize,
    seed: u64,
) -> String {
    let w = weights(g, &format!("{name}.w"), &[cout, cin, k, k], seed, 0.4);
    let pad = (k / 2) as i64;
    let c = g.node(
        "Conv",
        &[x, &w],
        vec![("pads", ints(&[pad, pad, pad, pad]))],
    );
    let gamma = g.constant(
        &format!("{name}.gamma"),
        &Tensor::f32(
            vec![cout],
            noise(seed + 1, cout, 0.3).iter().map(|v| 1.0 + v).collect(),
        ),
    );
    let beta = weights(g, &format!("{name}.beta"), &[cout], seed + 2, 0.2);
    let mean = weights(g, &format!("{name}.mean"), &[cout], seed + 3, 0.2);
    let var = g.constant(
        &format!("{name}.var"),
        &Tensor::f32(
            vec![cout],
            noise(seed + 4, cout, 0.4).iter().map(|v| 1.0 + v).collect(),
        ),
    );
    let bn = g.node(
        "BatchNormalization",
        &[&c, &gamma, &beta, &mean, &var],
        vec![("epsilon", Attr::Float(1e-3))],
    );
    g.node("Relu", &[&bn], vec![])
}

/// A PyTorch export: NCHW, Conv + BatchNormalization + ReLU blocks, a residual Add, a
/// channel Concat, both average-pooling padding modes, constant Pad, global pooling, Gemm
/// head with transB, and assorted activations.
pub fn pytorch_residual() -> Vec<u8> {
    let mut g = GraphBuilder::new("pytorch_residual", 13);
    let x = g.input("image", &[-1, 3, 16, 16]);
    let a = conv_bn_relu(&mut g, &x, "stem", 3, 8, 3, 10);
    let b = conv_bn_relu(&mut g, &a, "block", 8, 8, 3, 20);
    let res = g.node("Add", &[&a, &b], vec![]);
    let res = g.node("Relu", &[&res], vec![]);
    let left = conv_bn_relu(&mut g, &res, "left", 8, 4, 1, 30);
    let right = conv_bn_relu(&mut g, &res, "right", 8, 6, 3, 40);
    let cat = g.node("Concat", &[&left, &right], vec![("axis", Attr::Int(1))]);
    let p1 = g.node(
        "AveragePool",
        &[&cat],
        vec![
            ("kernel_shape", ints(&[3, 3])),
            ("strides", ints(&[2, 2])),
            ("pads", ints(&[1, 1, 1, 1])),
            ("count_include_pad", Attr::Int(1)),
        ],
    );
    let pads = g.constant("pads", &Tensor::i64_vec(vec![0, 0, 1, 0, 0, 0, 0, 1]));
    let value = g.constant("pad_value", &Tensor::f32(vec![], vec![0.5]));
    let padded = g.node("Pad", &[&p1, &pads, &value], vec![]);
    let p2 = g.node(
        "AveragePool",
        &[&padded],
        vec![
            ("kernel_shape", ints(&[3, 3])),
            ("strides", ints(&[1, 1])),
            ("pads", ints(&[1, 1, 1, 1])),
        ],
    );
    let hs = g.node("HardSwish", &[&p2], vec![]);
    let gap = g.node("GlobalAveragePool", &[&hs], vec![]);
    let flat = g.node("Flatten", &[&gap], vec![]);
    let w = weights(&mut g, "fc.w", &[4, 10], 50, 0.5);
    let bias = weights(&mut g, "fc.b", &[4], 51, 0.1);
    let fc = g.node(
        "Gemm",
        &[&flat, &w, &bias],
        vec![
            ("transB", Attr::Int(1)),
            ("alpha", Attr::Float(0.9)),
            ("beta", Attr::Float(1.1)),
        ],
    );
    let out = g.node("Sigmoid", &[&fc], vec![]);
    g.output(&out, &[-1, 4]);
    g.to_bytes()
}

/// An MLP over a sequence: 3-D MatMul input, Gemm-free layers, Tanh, LeakyRelu, HardSigmoid,
/// element-wise Mul with a broadcast constant, LogSoftmax on the middle axis, Transpose.
pub fn sequence_mlp() -> Vec<u8> {
    let mut g = GraphBuilder::new("sequence_mlp", 13);
    let x = g.input("seq", &[-1, 6, 16]);
    let w1 = weights(&mut g, "w1", &[16, 24], 60, 0.4);
    let h = g.node("MatMul", &[&x, &w1], vec![]);
    let b1 = weights(&mut g, "b1", &[24], 61, 0.1);
    let h = g.node("Add", &[&h, &b1], vec![]);
    let h = g.node("Tanh", &[&h], vec![]);
    let scale = weights(&mut g, "scale", &[1, 24], 62, 1.0);
    let h = g.node("Mul", &[&h, &scale], vec![]);
    let h = g.node("LeakyRelu", &[&h], vec![("alpha", Attr::Float(0.1))]);
    let w2 = weights(&mut g, "w2", &[24, 8], 63, 0.4);
    let h = g.node("MatMul", &[&h, &w2], vec![]);
    let h = g.node("HardSigmoid", &[&h], vec![]);
    let t = g.node("Transpose", &[&h], vec![("perm", ints(&[0, 2, 1]))]);
    let out = g.node("LogSoftmax", &[&t], vec![("axis", Attr::Int(1))]);
    g.output(&out, &[-1, 8, 6]);
    g.to_bytes()
}
