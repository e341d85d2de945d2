//! Distillation: the candle student's gradients against finite differences and its outputs
//! against tract on generated models, determinism, typed refusals, and recovery of a pruned
//! copy of the bundled example (the written model compiles and evaluates).

#[path = "common/mod.rs"]
mod common;

use candle_core::{DType, Device, Tensor as CTensor};
use common::{text, whittle};
use prost::Message;
use std::path::{Path, PathBuf};
use whittle::Tensor;
use whittle::distill::{Data, DistillOptions, Optimizer, Student, distill};
use whittle::import::ImportOptions;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::prune::{Amount, Analysis, Criterion, PruneOptions, Scope};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture")
}

/// A tiny deterministic generator for weights and inputs.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn tensor(&mut self, shape: &[usize], scale: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::f32(
            shape.to_vec(),
            (0..n).map(|_| scale * self.unit()).collect(),
        )
    }
}

fn ints(v: &[i64]) -> Attr {
    Attr::Ints(v.to_vec())
}

/// 2-D: strided Conv with asymmetric pads -> BatchNorm -> Relu -> dilated depthwise Conv ->
/// MaxPool (kernel != stride) -> Clip -> AveragePool (pads, count_include_pad 0) -> 1x1 Conv
/// -> GlobalAveragePool -> Flatten -> Gemm -> Softmax. Input `[N, 2, 7, 6]`, 5 classes.
fn model_2d(dir: &Path, seed: u64) -> PathBuf {
    let mut rng = Lcg(seed);
    let mut g = GraphBuilder::new("grad_2d", 13);
    let x = g.input("x", &[-1, 2, 7, 6]);
    let w = g.constant("a.w", &rng.tensor(&[4, 2, 3, 3], 0.5));
    let b = g.constant("a.b", &rng.tensor(&[4], 0.2));
    let y = g.node(
        "Conv",
        &[&x, &w, &b],
        vec![("strides", ints(&[2, 2])), ("pads", ints(&[1, 0, 1, 1]))],
    );
    let gamma = Tensor::f32(vec![4], (0..4).map(|_| 1.0 + 0.3 * rng.unit()).collect());
    let var = Tensor::f32(vec![4], (0..4).map(|_| 1.0 + 0.3 * rng.unit()).collect());
    let gamma = g.constant("bn.gamma", &gamma);
    let beta = g.constant("bn.beta", &rng.tensor(&[4], 0.2));
    let mean = g.constant("bn.mean", &rng.tensor(&[4], 0.2));
    let var = g.constant("bn.var", &var);
    let y = g.node(
        "BatchNormalization",
        &[&y, &gamma, &beta, &mean, &var],
        vec![],
    );
    let y = g.node("Relu", &[&y], vec![]);
    let w = g.constant("dw.w", &rng.tensor(&[4, 1, 3, 3], 0.5));
    let y = g.node(
        "Conv",
        &[&y, &w],
        vec![
            ("group", Attr::Int(4)),
            ("dilations", ints(&[2, 2])),
            ("pads", ints(&[2, 2, 2, 2])),
        ],
    );
    let y = g.node(
        "MaxPool",
        &[&y],
        vec![("kernel_shape", ints(&[2, 2])), ("strides", ints(&[1, 1]))],
    );
    let lo = g.constant("clip.lo", &Tensor::f32(vec![], vec![-1.0]));
    let hi = g.constant("clip.hi", &Tensor::f32(vec![], vec![1.0]));
    let y = g.node("Clip", &[&y, &lo, &hi], vec![]);
    let y = g.node(
        "AveragePool",
        &[&y],
        vec![
            ("kernel_shape", ints(&[3, 3])),
            ("strides", ints(&[2, 2])),
            ("pads", ints(&[1, 1, 1, 1])),
        ],
    );
    let w = g.constant("pw.w", &rng.tensor(&[6, 4, 1, 1], 0.5));
    let b = g.constant("pw.b", &rng.tensor(&[6], 0.2));
    let y = g.node("Conv", &[&y, &w, &b], vec![]);
    let y = g.node("GlobalAveragePool", &[&y], vec![]);
    let y = g.node("Flatten", &[&y], vec![]);
    let w = g.constant("fc.w", &rng.tensor(&[5, 6], 0.8));
    let b = g.constant("fc.b", &rng.tensor(&[5], 0.2));
    let y = g.node("Gemm", &[&y, &w, &b], vec![("transB", Attr::Int(1))]);
    let y = g.node("Softmax", &[&y], vec![("axis", Attr::Int(-1))]);
    g.output(&y, &[-1, 5]);
    let path = dir.join(format!("grad_2d_{seed}.onnx"));
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

/// 1-D: strided Conv -> Relu -> depthwise Conv with bias -> MaxPool (pads, ceil_mode) ->
/// Transpose -> MatMul + Add -> Relu -> Flatten -> MatMul + Add. Input `[N, 3, 16]`,
/// 3 logits.
fn model_1d(dir: &Path) -> PathBuf {
    let mut rng = Lcg(5);
    let mut g = GraphBuilder::new("grad_1d", 13);
    let x = g.input("x", &[-1, 3, 16]);
    let w = g.constant("a.w", &rng.tensor(&[4, 3, 5], 0.5));
    let y = g.node(
        "Conv",
        &[&x, &w],
        vec![("strides", ints(&[2])), ("pads", ints(&[2, 1]))],
    );
    let y = g.node("Relu", &[&y], vec![]);
    let w = g.constant("dw.w", &rng.tensor(&[4, 1, 3], 0.5));
    let b = g.constant("dw.b", &rng.tensor(&[4], 0.2));
    let y = g.node(
        "Conv",
        &[&y, &w, &b],
        vec![("group", Attr::Int(4)), ("pads", ints(&[1, 1]))],
    );
    let y = g.node(
        "MaxPool",
        &[&y],
        vec![
            ("kernel_shape", ints(&[3])),
            ("strides", ints(&[2])),
            ("pads", ints(&[1, 1])),
            ("ceil_mode", Attr::Int(1)),
        ],
    );
    let y = g.node("Transpose", &[&y], vec![("perm", ints(&[0, 2, 1]))]);
    let w = g.constant("mm.w", &rng.tensor(&[4, 6], 0.5));
    let b = g.constant("mm.b", &rng.tensor(&[6], 0.2));
    let y = g.node("MatMul", &[&y, &w], vec![]);
    let y = g.node("Add", &[&y, &b], vec![]);
    let y = g.node("Relu", &[&y], vec![]);
    let y = g.node("Flatten", &[&y], vec![]);
    let w = g.constant("out.w", &rng.tensor(&[30, 3], 0.3));
    let b = g.constant("out.b", &rng.tensor(&[3], 0.2));
    let y = g.node("MatMul", &[&y, &w], vec![]);
    let y = g.node("Add", &[&y, &b], vec![]);
    g.output(&y, &[-1, 3]);
    let path = dir.join("grad_1d.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

fn student(path: &Path, dtype: DType) -> Student {
    let model = whittle::compile::load_onnx(path).unwrap();
    Student::with_dtype(&model, path.parent(), &ImportOptions::default(), dtype).unwrap()
}

/// Analytic gradients of `sum(logits * r)` against central differences, for every weight
/// (up to 12 elements of each), in float64.
fn check_gradients(path: &Path, sample: &[usize]) {
    let s = student(path, DType::F64);
    let mut rng = Lcg(17);
    let mut shape = vec![2];
    shape.extend_from_slice(sample);
    let dev = Device::Cpu;
    let to = |t: &Tensor| {
        CTensor::from_vec(t.to_f32(), t.shape.as_slice(), &dev)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
    };
    let x = to(&rng.tensor(&shape, 1.0));
    let classes = s.forward(&x).unwrap().dim(1).unwrap();
    let r = to(&rng.tensor(&[2, classes], 1.0));
    let objective = |s: &Student| {
        (s.forward(&x).unwrap() * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let grads = (s.forward(&x).unwrap() * &r)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert!(!s.params().is_empty());
    let eps = 1e-6;
    for p in s.params() {
        let g: Vec<f64> = grads
            .get(&p.var)
            .unwrap_or_else(|| panic!("no gradient for {}", p.name))
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let values: Vec<f64> = p.var.flatten_all().unwrap().to_vec1().unwrap();
        let step = values.len().div_ceil(12).max(1);
        for i in (0..values.len()).step_by(step) {
            let set = |v: f64| {
                let mut w = values.clone();
                w[i] = v;
                p.var
                    .set(&CTensor::from_vec(w, p.shape.as_slice(), &dev).unwrap())
                    .unwrap();
            };
            set(values[i] + eps);
            let up = objective(&s);
            set(values[i] - eps);
            let down = objective(&s);
            set(values[i]);
            let numeric = (up - down) / (2.0 * eps);
            assert!(
                (g[i] - numeric).abs() <= 1e-6 + 1e-5 * numeric.abs(),
                "{} [{i}]: autograd {} vs finite differences {numeric}",
                p.name,
                g[i]
            );
        }
    }
}

/// The student's float32 outputs (softmax applied when the model ends with one) against tract.
fn check_forward(path: &Path, sample: &[usize], softmax: bool) {
    let s = student(path, DType::F32);
    let mut shape = vec![3];
    shape.extend_from_slice(sample);
    let x = Lcg(23).tensor(&shape, 1.0);
    let expected = whittle::reference::run_tract(path, std::slice::from_ref(&x)).unwrap();
    let cx = CTensor::from_vec(x.to_f32(), x.shape.as_slice(), &Device::Cpu).unwrap();
    let mut y = s.forward(&cx).unwrap();
    if softmax {
        let e = y.exp().unwrap();
        y = e.broadcast_div(&e.sum_keepdim(1).unwrap()).unwrap();
    }
    let got: Vec<f32> = y.flatten_all().unwrap().to_vec1().unwrap();
    let want = expected[0].to_f32();
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst < 1e-5,
        "{}: student and tract differ by {worst}",
        path.display()
    );
}

#[test]
fn student_gradients_match_finite_differences_and_outputs_match_tract() {
    let dir = tempfile::tempdir().unwrap();
    let two = model_2d(dir.path(), 3);
    let one = model_1d(dir.path());
    check_forward(&two, &[2, 7, 6], true);
    check_forward(&one, &[3, 16], false);
    check_gradients(&two, &[2, 7, 6]);
    check_gradients(&one, &[3, 16]);
    // Every weight trains, BatchNorm statistics and Clip bounds do not.
    let names: Vec<String> = student(&two, DType::F32)
        .params()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "a.w", "a.b", "bn.gamma", "bn.beta", "dw.w", "pw.w", "pw.b", "fc.w", "fc.b"
        ]
    );
}

fn random_data(n: usize, sample: &[usize], seed: u64) -> Data {
    let mut shape = vec![n];
    shape.extend_from_slice(sample);
    Data {
        x: Lcg(seed).tensor(&shape, 1.0),
        labels: None,
    }
}

#[test]
fn distillation_without_labels_lowers_the_kl_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = model_2d(dir.path(), 3);
    let student_path = model_2d(dir.path(), 4);
    let data = random_data(96, &[2, 7, 6], 31);
    let options = DistillOptions {
        epochs: 4,
        batch: 16,
        lr: 1e-2,
        seed: 7,
        ..DistillOptions::default()
    };
    let run = || {
        let s = student(&student_path, DType::F32);
        distill(&s, &teacher, &data, None, &options, |_| {}).unwrap()
    };
    let (a, b) = (run(), run());
    let losses: Vec<f64> = a.history.iter().map(|r| r.loss).collect();
    assert!(
        losses.last().unwrap() < &(0.5 * losses[0]),
        "the KL did not fall: {losses:?}"
    );
    assert!(a.history.iter().all(|r| r.train_top1.is_none()));
    assert_eq!(a.model.encode_to_vec(), b.model.encode_to_vec());
    // Only the weights changed: same nodes, same initializer names and shapes.
    let original = whittle::compile::load_onnx(&student_path).unwrap();
    let (g0, g1) = (original.graph.unwrap(), a.model.graph.unwrap());
    assert_eq!(g0.node, g1.node);
    let dims = |g: &whittle::onnx::pb::GraphProto| {
        g.initializer
            .iter()
            .map(|i| (i.name.clone(), i.dims.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(dims(&g0), dims(&g1));
    let moved = |name: &str| {
        let find = |g: &whittle::onnx::pb::GraphProto| {
            g.initializer
                .iter()
                .find(|i| i.name == name)
                .unwrap()
                .clone()
        };
        find(&g0) != find(&g1)
    };
    assert!(moved("fc.w") && moved("a.w") && !moved("bn.mean") && !moved("clip.lo"));

    // A different seed shuffles differently.
    let other = DistillOptions { seed: 8, ..options };
    let s = student(&student_path, DType::F32);
    let c = distill(&s, &teacher, &data, None, &other, |_| {}).unwrap();
    assert_ne!(c.model.encode_to_vec(), b.model.encode_to_vec());
}

#[test]
fn unsupported_nodes_and_mismatched_data_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = GraphBuilder::new("padded", 13);
    let x = g.input("x", &[-1, 2, 4]);
    let pads = g.constant("pads", &Tensor::i64_vec(vec![0, 0, 1, 0, 0, 1]));
    let y = g.node("Pad", &[&x, &pads], vec![]);
    let w = g.constant("w", &Lcg(1).tensor(&[3, 2, 6], 0.5));
    let y = g.node("Conv", &[&y, &w], vec![]);
    let y = g.node("Flatten", &[&y], vec![]);
    g.output(&y, &[-1, 3]);
    let model = g.build();
    let err = Student::new(&model, None, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("pad_0") && err.contains("(Pad)") && err.contains("[1, 2, 4]"),
        "{err}"
    );

    // A weight computed at import (a Transpose of a constant) cannot be written back.
    let mut g = GraphBuilder::new("computed", 13);
    let x = g.input("x", &[-1, 2, 4]);
    let w = g.constant("w.t", &Lcg(1).tensor(&[2, 3, 4], 0.5));
    let w = g.node("Transpose", &[&w], vec![("perm", ints(&[1, 0, 2]))]);
    let y = g.node("Conv", &[&x, &w], vec![]);
    let y = g.node("Flatten", &[&y], vec![]);
    g.output(&y, &[-1, 3]);
    let err = Student::new(&g.build(), None, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("transpose_0") && err.contains("[3, 2, 4]") && err.contains("(Conv)"),
        "{err}"
    );

    let teacher = model_2d(dir.path(), 3);
    let s = student(&model_2d(dir.path(), 4), DType::F32);
    let wrong = random_data(8, &[2, 6, 7], 1);
    let err = distill(
        &s,
        &teacher,
        &wrong,
        None,
        &DistillOptions::default(),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("[2, 6, 7]") && err.contains("[2, 7, 6]"),
        "{err}"
    );
    let mut labelled = random_data(8, &[2, 7, 6], 1);
    labelled.labels = Some(vec![0, 1, 2, 3, 4, 5, 0, 1]);
    let err = distill(
        &s,
        &teacher,
        &labelled,
        None,
        &DistillOptions::default(),
        |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("label 5") && err.contains("5 classes"),
        "{err}"
    );
}

fn gesture_data(split: &str) -> Data {
    let arrays = whittle::data::read_arrays(&example().join(format!("data/{split}.npz"))).unwrap();
    let get = |name: &str| arrays.iter().find(|(n, _)| n == name).unwrap().1.clone();
    Data {
        x: get("x"),
        labels: Some(get("y").to_i64()),
    }
}

#[test]
fn distilling_the_pruned_example_recovers_validation_top1() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = example().join("gesture.onnx");
    let model = whittle::compile::load_onnx(&teacher).unwrap();
    let analysis = Analysis::new(&model, teacher.parent(), &ImportOptions::default()).unwrap();
    let pruned = analysis
        .prune(&PruneOptions {
            criterion: Criterion::L1,
            amount: Amount::TargetMacs(0.6),
            scope: Scope::PerGroup,
            round_to: 1,
        })
        .unwrap();
    let pruned_path = dir.path().join("pruned.onnx");
    std::fs::write(&pruned_path, pruned.model.encode_to_vec()).unwrap();

    let (train, val) = (gesture_data("train"), gesture_data("val"));
    let s = Student::new(&pruned.model, None, &ImportOptions::default()).unwrap();
    let options = DistillOptions {
        epochs: 6,
        lr: 3e-3,
        optimizer: Optimizer::Adam,
        ..DistillOptions::default()
    };
    let mut printed = Vec::new();
    let distilled = distill(&s, &teacher, &train, Some(&val), &options, |r| {
        printed.push(r.clone())
    })
    .unwrap();
    let before = distilled.val_top1_before.unwrap();
    let after = distilled.history.last().unwrap().val_top1.unwrap();
    println!(
        "MACs kept {:.1}%, val top-1 pruned {:.2}% -> distilled {:.2}%",
        100.0 * pruned.macs_after as f64 / pruned.macs_before as f64,
        100.0 * before,
        100.0 * after
    );
    assert_eq!(printed.len(), 6);
    assert!(printed.iter().all(|r| r.train_top1.is_some()));
    assert!(after > before + 0.2 && after > 0.95, "{before} -> {after}");

    // The written model checks, compiles and evaluates as the trainer measured.
    let out = dir.path().join("distilled.onnx");
    std::fs::write(&out, distilled.model.encode_to_vec()).unwrap();
    let o = whittle(&["check", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let wtl = dir.path().join("distilled.wtl");
    let o = whittle(&[
        "compile",
        out.to_str().unwrap(),
        "-o",
        wtl.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let val_path = example().join("data/val.npz");
    let o = whittle(&[
        "eval",
        wtl.to_str().unwrap(),
        "--data",
        val_path.to_str().unwrap(),
    ]);
    assert!(
        text(&o).contains(&format!("top-1 {:.2}%", 100.0 * after)),
        "{}",
        text(&o)
    );
}

#[test]
fn the_command_trains_prints_epochs_and_writes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = model_2d(dir.path(), 3);
    let student_path = model_2d(dir.path(), 4);
    let mut data = random_data(40, &[2, 7, 6], 9);
    data.labels = Some((0..40).map(|i| i % 5).collect());
    let npz = dir.path().join("train.npz");
    whittle::data::write_npz(
        &npz,
        &[
            ("x".into(), data.x.clone()),
            (
                "y".into(),
                Tensor::int(whittle::ElemType::I64, vec![40], data.labels.unwrap()),
            ),
        ],
    )
    .unwrap();
    let out = dir.path().join("out.onnx");
    let o = whittle(&[
        "distill",
        student_path.to_str().unwrap(),
        "--teacher",
        teacher.to_str().unwrap(),
        "--data",
        npz.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--epochs",
        "2",
        "--optimizer",
        "sgd",
    ]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("epoch   2/2: loss") && t.contains("train top-1"),
        "{t}"
    );
    assert!(out.exists());
    let o = whittle(&[
        "distill",
        student_path.to_str().unwrap(),
        "--teacher",
        teacher.to_str().unwrap(),
        "--data",
        npz.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--alpha",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("alpha must be in [0, 1]"), "{}", text(&o));
}
