//! The exporter on models built in code (`fixtures.rs`), compiled in float and int8: every
//! operator kind the compiler emits for them runs through ONNX Runtime and tract and agrees
//! with whittle. Each test first checks that the artifact still holds the kinds it is meant
//! to exercise.

use crate::common::{text, whittle};
use crate::fixtures;
use crate::support::*;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use whittle::Tensor;
use whittle_runtime::format::OpKind;
use whittle_runtime::{AlignedBytes, Model};

/// Samples each export is compared on (a different seed from the calibration data's).
const SAMPLES: usize = 100;

/// A fixture compiled both ways, and the samples it is compared on.
pub struct Built {
    pub name: &'static str,
    pub float: PathBuf,
    pub int8: PathBuf,
    pub x: Tensor,
    pub x_npy: PathBuf,
    pub shape: Vec<usize>,
}

/// Operator kinds of an artifact, as `inspect` names them.
pub fn op_kinds(artifact: &Path) -> BTreeSet<String> {
    let bytes = std::fs::read(artifact).unwrap();
    let aligned = AlignedBytes::new(&bytes);
    let model = Model::load(&aligned).unwrap();
    model.ops().map(|op| op.kind.name().to_string()).collect()
}

/// One output LSB of an artifact whose last operator dequantizes its int8 output.
pub fn output_lsb(artifact: &Path) -> f32 {
    let bytes = std::fs::read(artifact).unwrap();
    let aligned = AlignedBytes::new(&bytes);
    let model = Model::load(&aligned).unwrap();
    match model.ops().last().map(|op| op.kind) {
        Some(OpKind::Dequantize(d)) => d.scale,
        other => panic!("the last operator is {other:?}, not a Dequantize"),
    }
}

/// `onnx` compiled for a Cortex-M4F to `<name>.wtl`, in int8 when `calib` is given.
pub fn compile(onnx: &Path, name: &str, calib: Option<&Path>) -> PathBuf {
    let out = scratch().join(format!("{name}.wtl"));
    let (onnx_s, out_s) = (onnx.display().to_string(), out.display().to_string());
    let mut args = vec!["compile", &onnx_s, "-o", &out_s, "--target", "cortex-m4f"];
    let calib_s = calib.map(|c| c.display().to_string());
    if let Some(c) = &calib_s {
        args.extend(["--quantize", "int8", "--calib", c]);
    }
    let run = whittle(&args);
    assert!(run.status.success(), "{}", text(&run));
    out
}

fn build(name: &'static str, make: fn(&Path) -> PathBuf, shape: &[usize]) -> Built {
    let dir = scratch();
    let onnx = make(dir);
    let calib = fixtures::samples(1, 200, shape);
    let calib = fixtures::write_data(dir, &format!("{name}_calib"), &calib);
    let x = fixtures::samples(2, SAMPLES, shape);
    let x_npy = dir.join(format!("{name}_x.npy"));
    whittle::data::write_npy(&x_npy, &x).unwrap();
    Built {
        name,
        float: compile(&onnx, &format!("{name}_f32"), None),
        int8: compile(&onnx, &format!("{name}_i8"), Some(&calib)),
        x,
        x_npy,
        shape: shape.to_vec(),
    }
}

/// The branchy convolutional fixture, built once per test binary.
pub fn branchy() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| build("branchy", fixtures::branchy, &[1, 3, 16, 16]))
}

/// The sequence fixture, built once per test binary.
pub fn sequence() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| build("sequence", fixtures::sequence, &[1, 4, 6]))
}

/// Fails unless `artifact` holds every kind in `want`.
pub fn assert_kinds(artifact: &Path, want: &[&str]) {
    let have = op_kinds(artifact);
    let missing: Vec<_> = want.iter().filter(|k| !have.contains(**k)).collect();
    assert!(
        missing.is_empty(),
        "{} no longer holds {missing:?}; it holds {have:?}",
        artifact.display()
    );
}

/// Agreement of the export of `artifact` with whittle, in tract and (when its venv exists)
/// ONNX Runtime.
pub fn compare(b: &Built, artifact: &Path, test: &str) -> Vec<(&'static str, Agreement)> {
    let onnx = export(artifact);
    let ours = whittle_outputs(artifact, &b.x);
    let mut out = vec![(
        "tract",
        agreement(&ours, &tract_outputs(&onnx, &b.x, &b.shape)),
    )];
    if let Some(python) = ort_python(test) {
        let ort = ort_outputs(&python, &onnx, &b.x_npy, SAMPLES);
        out.push(("ONNX Runtime", agreement(&ours, &ort)));
    }
    let largest = ours.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
    let classes: BTreeSet<usize> = ours.iter().map(|o| argmax(o)).collect();
    println!(
        "{} outputs: largest magnitude {largest:.3}, top-1 classes {classes:?}",
        b.name
    );
    // Top-1 agreement means little if every sample has the same winner.
    assert!(classes.len() >= 3, "top-1 classes {classes:?}");
    out
}

fn float_case(b: &Built, kinds: &[&str], test: &str) {
    assert_kinds(&b.float, kinds);
    for (runtime, a) in compare(b, &b.float, test) {
        println!(
            "float {}, {runtime} vs whittle, {SAMPLES} samples: top-1 agreement {:.2}%, max error {:.2e}",
            b.name,
            a.top1 * 100.0,
            a.max_abs
        );
        // Outputs are of order 1 (probabilities, logits below 10): an absolute bound is
        // also a relative one. Float kernels differ only in summation order.
        assert!(a.max_abs <= 1e-4, "{runtime}: max error {}", a.max_abs);
        assert_eq!(a.top1, 1.0, "{runtime}: top-1 agreement");
    }
}

fn int8_case(b: &Built, kinds: &[&str], max_lsb: f32, test: &str) {
    assert_kinds(&b.int8, kinds);
    let lsb = output_lsb(&b.int8);
    for (runtime, a) in compare(b, &b.int8, test) {
        let diff = a.max_abs / lsb;
        println!(
            "int8 {}, {runtime} vs whittle, {SAMPLES} samples: top-1 agreement {:.2}%, max difference {diff} LSB (of {lsb:.3e}), identical outputs {:.1}%",
            b.name,
            a.top1 * 100.0,
            a.identical * 100.0
        );
        assert!(a.top1 >= 0.99, "{runtime}: top-1 agreement {}", a.top1);
        assert!(diff <= max_lsb, "{runtime}: max difference {diff} LSB");
        assert!(
            a.identical >= 0.9,
            "{runtime}: identical outputs {}",
            a.identical
        );
    }
}

const BRANCHY_FLOAT: &[&str] = &[
    "Conv2d",
    "Sigmoid",
    "Tanh",
    "Add",
    "Copy",
    "Pad",
    "GlobalAvgPool",
    "Dense",
    "Mul",
    "Sub",
    "Softmax",
];
const BRANCHY_INT8: &[&str] = &[
    "Conv2dI8",
    "LookupI8",
    "AddI8",
    "RequantizeI8",
    "Copy",
    "Pad",
    "GlobalAvgPoolI8",
    "DenseI8",
    "MulI8",
    "SubI8",
    "SoftmaxI8",
];
const SEQUENCE_FLOAT: &[&str] = &["Transpose", "MatMul", "Dense", "Tanh", "GlobalMaxPool"];
const SEQUENCE_INT8: &[&str] = &[
    "Transpose",
    "MatMul",
    "Quantize",
    "Dequantize",
    "DenseI8",
    "LookupI8",
    "GlobalMaxPoolI8",
    "RequantizeI8",
];

/// Bound on the sequence fixture's output, a dequantized Dense layer (logits): measured 0 or
/// 1 LSB in both runtimes (it depends on the samples), from requantization ties the QDQ form
/// rounds half to even and whittle half away from zero. One LSB of headroom.
const LOGITS_MAX_LSB: f32 = 2.0;

/// Bound on the branchy fixture's output, a softmax at scale 1/256: measured 2 LSB in both
/// runtimes on one sample of 100 (the others identical). One LSB of a logit moves a
/// probability by up to about 2 LSB where two classes are close; two of headroom.
const SOFTMAX_MAX_LSB: f32 = 4.0;

#[test]
fn branchy_float_export_agrees() {
    float_case(branchy(), BRANCHY_FLOAT, "branchy_float_export_agrees");
}

#[test]
fn sequence_float_export_agrees() {
    float_case(sequence(), SEQUENCE_FLOAT, "sequence_float_export_agrees");
}

#[test]
fn branchy_int8_export_agrees() {
    int8_case(
        branchy(),
        BRANCHY_INT8,
        SOFTMAX_MAX_LSB,
        "branchy_int8_export_agrees",
    );
}

#[test]
fn sequence_int8_export_agrees() {
    int8_case(
        sequence(),
        SEQUENCE_INT8,
        LOGITS_MAX_LSB,
        "sequence_int8_export_agrees",
    );
}
