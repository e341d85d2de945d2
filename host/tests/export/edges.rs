//! The edges of what the exporter writes: an operator it must refuse (average pooling whose
//! output size needs `ceil_mode`), and outputs that are not plain operator results (a model
//! input passed through, and a value both output and read by a later operator).

use crate::common::{text, whittle};
use crate::cover::compile;
use crate::fixtures;
use crate::support::*;
use std::path::Path;
use whittle::Tensor;
use whittle_runtime::{AlignedBytes, Model};

/// Operator kinds of an artifact in execution order.
fn op_list(artifact: &Path) -> Vec<String> {
    let bytes = std::fs::read(artifact).unwrap();
    let aligned = AlignedBytes::new(&bytes);
    let model = Model::load(&aligned).unwrap();
    model.ops().map(|op| op.kind.name().to_string()).collect()
}

#[test]
fn ceil_mode_average_pooling_is_refused_and_nothing_is_written() {
    let onnx = fixtures::ceil_avg_pool(scratch());
    let calib = fixtures::samples(3, 50, &[1, 2, 8, 8]);
    let calib = fixtures::write_data(scratch(), "ceil_calib", &calib);
    for (name, calib, kind) in [
        ("ceil_f32", None, "AvgPool2d"),
        ("ceil_i8", Some(calib.as_path()), "AvgPool2dI8"),
    ] {
        let artifact = compile(&onnx, name, calib);
        let index = op_list(&artifact)
            .iter()
            .position(|k| k == kind)
            .unwrap_or_else(|| panic!("{name} holds no {kind}"));
        let dir = tempfile::tempdir().unwrap();
        let out_path = dir.path().join("out.onnx");
        let out = whittle(&[
            "export-onnx",
            artifact.to_str().unwrap(),
            "-o",
            out_path.to_str().unwrap(),
        ]);
        let msg = text(&out);
        println!("{name}: {}", msg.trim());
        assert_eq!(out.status.code(), Some(2), "{msg}");
        assert!(msg.contains(&format!("op {index} ({kind})")), "{msg}");
        assert!(msg.contains("ceil_mode"), "{msg}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "something was written"
        );
    }
}

/// All outputs of `model` for one sample in tract, in the graph's order. By default tract
/// gives every graph output an unknown shape, which for an input that is also an output
/// erases the input's declared shape; reading the declared output shapes keeps it.
fn tract_all(model: &Path, x: &Tensor) -> Vec<Vec<f32>> {
    use tract_onnx::prelude::*;
    let model = tract_onnx::onnx()
        .with_ignore_output_shapes(false)
        .model_for_path(model)
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = tract_onnx::prelude::Tensor::from_shape(&x.shape, &x.to_f32()).unwrap();
    model
        .run(tvec![input.into()])
        .unwrap()
        .iter()
        .map(tract_values)
        .collect()
}

/// The graph output names of an ONNX file, through tract's parse.
fn output_names(model: &Path) -> Vec<String> {
    use tract_onnx::prelude::Framework;
    let m = tract_onnx::onnx().proto_model_for_path(model).unwrap();
    m.graph
        .unwrap()
        .output
        .into_iter()
        .map(|o| o.name)
        .collect()
}

/// The same outputs: the passed-through ones and the Relu exactly, the Sigmoid up to float
/// rounding (runtimes' `exp` differ in the last bit).
fn assert_close(theirs: &[Vec<f32>], ours: &[Vec<f32>], what: &str) {
    assert_eq!(theirs.len(), ours.len(), "{what}: outputs");
    assert_eq!(theirs[..3], ours[..3], "{what}");
    let diff = theirs[3]
        .iter()
        .zip(&ours[3])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(diff <= 1e-6, "{what}: sigmoid differs by {diff}");
}

#[test]
fn outputs_that_are_inputs_or_intermediates_export() {
    let onnx = fixtures::passthrough(scratch());
    let calib = fixtures::samples(4, 50, &[1, 4]);
    let calib = fixtures::write_data(scratch(), "passthrough_calib", &calib);
    let x = Tensor::f32(vec![1, 4], vec![-1.0, 0.25, 0.5, 2.0]);
    let x_npy = scratch().join("passthrough_x.npy");
    whittle::data::write_npy(&x_npy, &x).unwrap();
    let python = ort_python("outputs_that_are_inputs_or_intermediates_export (ONNX Runtime)");
    for (name, calib) in [("pass_f32", None), ("pass_i8", Some(calib.as_path()))] {
        let artifact = compile(&onnx, name, calib);
        let exported = export(&artifact);
        let bytes = std::fs::read(&artifact).unwrap();
        let mut runner = whittle::run::Runner::new(&bytes).unwrap();
        let ours: Vec<Vec<f32>> = runner
            .run(std::slice::from_ref(&x))
            .unwrap()
            .iter()
            .map(Tensor::to_f32)
            .collect();
        assert_eq!(ours.len(), 4, "{name}: outputs");
        // In float the first two outputs are the input itself (by name, and through an
        // Identity); int8 quantizes them like any other value, and the compiler names the
        // first `x.dequantized`, so it does not clash with the input.
        if calib.is_none() {
            assert_eq!(ours[0], x.to_f32(), "{name}");
            assert_eq!(ours[1], x.to_f32(), "{name}");
        } else {
            assert_ne!(
                ours[0],
                x.to_f32(),
                "{name}: the int8 output 'x' is quantized"
            );
        }
        let names = output_names(&exported);
        let first = if calib.is_none() {
            "x"
        } else {
            "x.dequantized"
        };
        assert_eq!(names[0], first, "{name}: {names:?}");
        assert_close(&tract_all(&exported, &x), &ours, &format!("{name}: tract"));
        if let Some(python) = &python {
            let out = exported.with_extension("ort.npz");
            let run = std::process::Command::new(python)
                .args([
                    &repo().join("tests/ort/run_onnx.py"),
                    &exported,
                    &x_npy,
                    &out,
                ])
                .output()
                .unwrap();
            assert!(run.status.success(), "{name}: {}", text(&run));
            let ort: Vec<Vec<f32>> = whittle::data::read_npz(&out)
                .unwrap()
                .iter()
                .map(|(_, t)| t.to_f32())
                .collect();
            assert_close(&ort, &ours, &format!("{name}: ONNX Runtime"));
        }
    }
}
