//! `whittle export-onnx`: the exported example runs in ONNX Runtime and tract and agrees with
//! whittle; so do models built in code that exercise every other operator the exporter
//! writes (`cover.rs`); pruned ONNX models run in ONNX Runtime; a file that is no artifact is
//! refused.
//! Run with `-- --nocapture` to see the figures (docs/export.md quotes them).

#[path = "../common/mod.rs"]
mod common;
mod cover;
mod edges;
mod fixtures;
mod support;

use common::{text, whittle};
use support::*;

/// The int8 example's output is the softmax dequantized from scale 1/256: one output LSB.
const SOFTMAX_LSB: f32 = 1.0 / 256.0;

/// Largest output difference allowed, in output LSBs. Measured on the 500 test windows: 7 LSB
/// in ONNX Runtime, 8 in tract: a tie rounded the other way (mean pooling, requantization)
/// moves a logit by 1 LSB, which the softmax amplifies where two classes are close.
/// Two LSB of headroom; a wrong scale or operator moves outputs by far more.
const MAX_LSB: f32 = 10.0;

/// Prints how `runtime` agrees with whittle on the int8 example and checks the goals.
fn check_int8(runtime: &str, samples: usize, a: &Agreement) {
    let lsb = a.max_abs / SOFTMAX_LSB;
    println!(
        "int8 gesture, {runtime} vs whittle, {samples} samples: top-1 agreement {:.2}%, max difference {lsb} LSB, identical outputs {:.1}%",
        a.top1 * 100.0,
        a.identical * 100.0
    );
    assert!(a.top1 >= 0.99, "{runtime}: top-1 agreement {}", a.top1);
    assert!(lsb <= MAX_LSB, "{runtime}: max difference {lsb} LSB");
    // Differences come from ties rounded differently (mean pooling, requantization) and the
    // softmax's table; most samples match bit for bit.
    assert!(
        a.identical >= 0.9,
        "{runtime}: identical outputs {}",
        a.identical
    );
}

#[test]
fn int8_export_agrees_with_whittle_in_onnx_runtime() {
    let Some(python) = ort_python("int8_export_agrees_with_whittle_in_onnx_runtime") else {
        return;
    };
    let artifact = compiled(true);
    let onnx = export(&artifact);
    let (x, x_npy) = test_windows();
    let ours = whittle_outputs(&artifact, &x);
    let ort = ort_outputs(&python, &onnx, &x_npy, x.shape[0]);
    check_int8("ONNX Runtime", ours.len(), &agreement(&ours, &ort));
}

#[test]
fn int8_export_agrees_with_whittle_in_tract() {
    let artifact = compiled(true);
    let onnx = export(&artifact);
    let (x, _) = test_windows();
    let ours = whittle_outputs(&artifact, &x);
    let tract = tract_outputs(&onnx, &x, &[1, 3, 64]);
    check_int8("tract", ours.len(), &agreement(&ours, &tract));
}

#[test]
fn float_export_agrees_with_whittle() {
    let artifact = compiled(false);
    let onnx = export(&artifact);
    let (x, x_npy) = test_windows();
    let ours = whittle_outputs(&artifact, &x);
    let tract = agreement(&ours, &tract_outputs(&onnx, &x, &[1, 3, 64]));
    println!(
        "float gesture, tract vs whittle: top-1 agreement {:.2}%, max error {:.2e}",
        tract.top1 * 100.0,
        tract.max_abs
    );
    assert!(tract.max_abs <= 1e-4, "tract max error {}", tract.max_abs);
    let Some(python) = ort_python("float_export_agrees_with_whittle (ONNX Runtime)") else {
        return;
    };
    let ort = agreement(&ours, &ort_outputs(&python, &onnx, &x_npy, x.shape[0]));
    println!(
        "float gesture, ONNX Runtime vs whittle: top-1 agreement {:.2}%, max error {:.2e}",
        ort.top1 * 100.0,
        ort.max_abs
    );
    assert!(
        ort.max_abs <= 1e-4,
        "ONNX Runtime max error {}",
        ort.max_abs
    );
}

#[test]
fn pruned_model_runs_in_onnx_runtime_like_tract() {
    let Some(python) = ort_python("pruned_model_runs_in_onnx_runtime_like_tract") else {
        return;
    };
    let pruned = scratch().join("pruned.onnx");
    let out = whittle(&[
        "prune",
        &gesture("gesture.onnx"),
        "-o",
        pruned.to_str().unwrap(),
        "--ratio",
        "0.5",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let (x, x_npy) = test_windows();
    let tract = tract_outputs(&pruned, &x, &[1, 3, 64]);
    let a = agreement(&tract, &ort_outputs(&python, &pruned, &x_npy, x.shape[0]));
    println!(
        "pruned float gesture, ONNX Runtime vs tract: top-1 agreement {:.2}%, max error {:.2e}",
        a.top1 * 100.0,
        a.max_abs
    );
    assert!(a.max_abs <= 1e-4, "max error {}", a.max_abs);
}

#[test]
fn garbage_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wtl");
    std::fs::write(&bad, b"this is not an artifact, just some bytes to refuse").unwrap();
    let onnx = dir.path().join("bad.onnx");
    let out = whittle(&[
        "export-onnx",
        bad.to_str().unwrap(),
        "-o",
        onnx.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not a valid artifact") && text(&out).contains("bad.wtl"),
        "{}",
        text(&out)
    );
    assert!(!onnx.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "a temporary file was left"
    );
}
