//! What the export tests share: the example compiled once per test binary, its test data,
//! ONNX Runtime through the venv `tests/setup-onnxruntime.sh` makes, and tract.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tract_onnx::prelude::*;
use whittle::Tensor;

use crate::common::{text, whittle};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn gesture(file: &str) -> String {
    repo()
        .join("examples/gesture")
        .join(file)
        .display()
        .to_string()
}

/// The venv python with onnxruntime: `WHITTLE_ORT_PYTHON`, else `.cache/ort-venv`. `None`
/// (the caller skips) when absent, unless `WHITTLE_REQUIRE_ORT` is set.
pub fn ort_python(test: &str) -> Option<PathBuf> {
    let path = std::env::var_os("WHITTLE_ORT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/ort-venv/bin/python"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("WHITTLE_REQUIRE_ORT").is_none(),
        "WHITTLE_REQUIRE_ORT is set but {} does not exist (run tests/setup-onnxruntime.sh)",
        path.display()
    );
    println!(
        "SKIPPED {test}: no ONNX Runtime venv at {} (tests/setup-onnxruntime.sh)",
        path.display()
    );
    None
}

/// A scratch directory shared by the tests of this binary.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// The example compiled (int8 or float) for a Cortex-M4F, once.
pub fn compiled(int8: bool) -> PathBuf {
    static DONE: OnceLock<()> = OnceLock::new();
    let path = |q: bool| scratch().join(if q { "g8.wtl" } else { "gf.wtl" });
    DONE.get_or_init(|| {
        for q in [false, true] {
            let out_path = path(q).display().to_string();
            let onnx = gesture("gesture.onnx");
            let calib = gesture("data/train.npz");
            let mut args = vec!["compile", &onnx, "-o", &out_path, "--target", "cortex-m4f"];
            if q {
                args.extend([
                    "--quantize",
                    "int8",
                    "--calib",
                    &calib,
                    "--calib-samples",
                    "300",
                ]);
            }
            let out = whittle(&args);
            assert!(out.status.success(), "{}", text(&out));
        }
    });
    path(int8)
}

/// `whittle export-onnx` of `artifact`; returns the ONNX path.
pub fn export(artifact: &Path) -> PathBuf {
    let onnx = artifact.with_extension("onnx");
    let out = whittle(&[
        "export-onnx",
        artifact.to_str().unwrap(),
        "-o",
        onnx.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    println!("{}", text(&out).trim());
    onnx
}

/// The example's 500 test windows, float32 `[500, 3, 64]`, and their path as `.npy`.
pub fn test_windows() -> (Tensor, PathBuf) {
    let arrays = whittle::data::read_npz(Path::new(&gesture("data/test.npz"))).unwrap();
    let (_, x) = arrays
        .into_iter()
        .find(|(n, _)| n == "x")
        .expect("x in test.npz");
    let x = Tensor::f32(x.shape.clone(), x.to_f32());
    let path = scratch().join("test_x.npy");
    whittle::data::write_npy(&path, &x).unwrap();
    (x, path)
}

/// whittle's outputs for `x`, through the runtime, as `[samples][classes]`.
pub fn whittle_outputs(artifact: &Path, x: &Tensor) -> Vec<Vec<f32>> {
    let bytes = std::fs::read(artifact).unwrap();
    let mut runner = whittle::run::Runner::new(&bytes).unwrap();
    rows(&runner.run(std::slice::from_ref(x)).unwrap()[0], x.shape[0])
}

fn rows(t: &Tensor, samples: usize) -> Vec<Vec<f32>> {
    let v = t.to_f32();
    v.chunks(v.len() / samples).map(<[f32]>::to_vec).collect()
}

/// ONNX Runtime's outputs (the first output) for the samples in `x_npy`.
pub fn ort_outputs(python: &Path, onnx: &Path, x_npy: &Path, samples: usize) -> Vec<Vec<f32>> {
    let out = onnx.with_extension("ort.npz");
    let script = repo().join("tests/ort/run_onnx.py");
    let run = Command::new(python)
        .args([&script, onnx, x_npy, &out])
        .output()
        .expect("run python");
    assert!(run.status.success(), "{}", text(&run));
    println!("{}", String::from_utf8_lossy(&run.stdout).trim());
    let arrays = whittle::data::read_npz(&out).unwrap();
    rows(&arrays[0].1, samples)
}

/// tract's outputs (the first output): the model optimized once, one sample at a time.
pub fn tract_outputs(onnx: &Path, x: &Tensor, sample_shape: &[usize]) -> Vec<Vec<f32>> {
    let model = tract_onnx::onnx()
        .model_for_path(onnx)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let per = sample_shape.iter().product::<usize>();
    x.to_f32()
        .chunks(per)
        .map(|s| {
            let input = tract_onnx::prelude::Tensor::from_shape(sample_shape, s).unwrap();
            let out = model.run(tvec![input.into()]).unwrap();
            tract_values(&out[0])
        })
        .collect()
}

/// The values of one of tract's outputs, as float32.
pub fn tract_values(output: &tract_onnx::prelude::TValue) -> Vec<f32> {
    let o = output.cast_to::<f32>().unwrap();
    o.to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

/// Top-1 agreement, largest absolute difference, and the share of samples whose outputs are
/// identical.
pub struct Agreement {
    pub top1: f64,
    pub max_abs: f32,
    pub identical: f64,
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    // First of equal maxima, as numpy's argmax.
    v.iter()
        .enumerate()
        .fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
}

pub fn agreement(a: &[Vec<f32>], b: &[Vec<f32>]) -> Agreement {
    assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    let same_top1 = a
        .iter()
        .zip(b)
        .filter(|(x, y)| argmax(x) == argmax(y))
        .count();
    let identical = a.iter().zip(b).filter(|(x, y)| x == y).count();
    let max_abs = a
        .iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0f32, f32::max);
    Agreement {
        top1: same_top1 as f64 / n,
        max_abs,
        identical: identical as f64 / n,
    }
}
