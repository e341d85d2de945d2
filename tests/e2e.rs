//! End to end: ONNX -> artifact -> whittle-runtime, compared with tract on the same inputs.
//! Tolerance: |whittle - tract| <= 1e-5 + 1e-5 * |tract| for every output element.

use std::path::Path;
use whittle::run::Runner;
use whittle::{CompileOptions, Tensor};
use whittle_tests::fixtures::{self, noise};
use whittle_tests::{compare, temp_model, workspace_root};

const ATOL: f32 = 1e-5;
const RTOL: f32 = 1e-5;

/// Compiles `path`, runs `samples` random inputs through whittle (all at once, stacked) and
/// through tract (one by one), and compares. Returns the compiled model.
fn check_against_tract(path: &Path, input_shape: &[usize], samples: usize) -> whittle::Compiled {
    let compiled = whittle::compile_path(path, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let n: usize = input_shape.iter().product();
    let data = noise(7, n * samples, 2.0);
    let mut stacked_shape = input_shape.to_vec();
    stacked_shape[0] *= samples;
    let ours = Runner::new(&compiled.artifact)
        .expect("load")
        .run(&[Tensor::f32(stacked_shape, data.clone())])
        .expect("run");
    for s in 0..samples {
        let one = Tensor::f32(input_shape.to_vec(), data[s * n..(s + 1) * n].to_vec());
        let reference = whittle::reference::run_tract(path, &[one]).expect("tract");
        let out_len = reference[0].len();
        let mine = Tensor::f32(
            reference[0].shape.clone(),
            ours[0].to_f32()[s * out_len..(s + 1) * out_len].to_vec(),
        );
        let worst = compare(&mine, &reference[0], ATOL, RTOL)
            .unwrap_or_else(|e| panic!("{} sample {s}: {e}", path.display()));
        assert!(worst.is_finite());
    }
    compiled
}

fn plan_is_tight(c: &whittle::Compiled) {
    let (arena, bound) = (c.plan.arena_bytes as f64, c.plan.lower_bound_bytes as f64);
    assert!(
        arena <= bound * 1.05 + 64.0,
        "arena {arena} vs lower bound {bound}"
    );
}

#[test]
fn tflite_style_nhwc_model_matches_tract() {
    let (_dir, path) = temp_model("tflite.onnx", &fixtures::tflite_style());
    let c = check_against_tract(&path, &[1, 12, 10, 3], 4);
    plan_is_tight(&c);
    // The NHWC input feeds the convolutions without any layout copy.
    let ops: Vec<&str> = c.program.ops.iter().map(|o| o.kind.name()).collect();
    assert!(
        !ops.contains(&"Transpose"),
        "unexpected transpose in {ops:?}"
    );
}

#[test]
fn pytorch_style_residual_concat_model_matches_tract() {
    let (_dir, path) = temp_model("residual.onnx", &fixtures::pytorch_residual());
    let c = check_against_tract(&path, &[1, 3, 16, 16], 3);
    plan_is_tight(&c);
    // Batch norms are folded into their convolutions and ReLUs fused.
    let ops: Vec<&str> = c.program.ops.iter().map(|o| o.kind.name()).collect();
    assert!(!ops.contains(&"Relu"), "{ops:?}");
    assert_eq!(ops.iter().filter(|o| **o == "Conv2d").count(), 4, "{ops:?}");
}

#[test]
fn sequence_mlp_matches_tract() {
    let (_dir, path) = temp_model("mlp.onnx", &fixtures::sequence_mlp());
    let c = check_against_tract(&path, &[1, 6, 16], 3);
    plan_is_tight(&c);
}

#[test]
fn bundled_gesture_example_matches_tract() {
    let path = workspace_root().join("examples/gesture/gesture.onnx");
    let c = check_against_tract(&path, &[1, 3, 64], 5);
    plan_is_tight(&c);
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    let (_dir, path) = temp_model("residual.onnx", &fixtures::pytorch_residual());
    let a = whittle::compile_path(&path, &CompileOptions::default()).expect("compile");
    let b = whittle::compile_path(&path, &CompileOptions::default()).expect("compile");
    assert_eq!(a.artifact, b.artifact);
}

#[test]
fn batch_dimension_follows_input_shape_option() {
    let (_dir, path) = temp_model("mlp.onnx", &fixtures::sequence_mlp());
    let mut opts = CompileOptions::default();
    opts.import.input_shapes.push((None, vec![4, 6, 16]));
    let c = whittle::compile_path(&path, &opts).expect("compile");
    let model_input = whittle::inspect::Summary::of(&c.artifact)
        .expect("inspect")
        .inputs[0]
        .shape
        .clone();
    assert_eq!(model_input, vec![4, 6, 16]);
}
