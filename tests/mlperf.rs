//! The MLPerf Tiny float reference models (read from `../shared/data` when present on this
//! machine): each compiles with default flags, matches the reference output within 1e-4
//! absolute, and gets an arena within 1.05x of its activation lower bound.

use std::path::{Path, PathBuf};

use whittle::run::Runner;
use whittle::{CompileOptions, Compiled};
use whittle_tests::{compare, npy, shared_data};

const MODELS: [&str; 4] = [
    "kws_ref_model_float32",
    "pretrainedResnet",
    "vww_96_float",
    "ad01_fp32",
];

#[test]
fn mlperf_tiny_float_models() {
    let Some(data) = reference_data() else { return };
    for name in MODELS {
        let compiled = compile_reference(&data, name);
        let worst = check_reference_output(&data, name, &compiled, 1e-4);
        println!(
            "{name}: max |diff| {worst:.2e}, {}",
            memory_summary(name, &compiled)
        );
    }
}

const INT8_MODELS: [&str; 4] = [
    "kws_ref_model",
    "pretrainedResnet_quant",
    "vww_96_int8",
    "ad01_int8",
];

/// Pre-quantized (QDQ) models: integer operators only, outputs within 1 LSB of TFLite's
/// (whittle's requantization is TFLite's single-rounding arithmetic, so in practice 0).
#[test]
fn mlperf_tiny_int8_models_match_tflite() {
    let Some(data) = reference_data() else { return };
    for name in INT8_MODELS {
        let compiled = compile_reference(&data, name);
        let floats: Vec<&str> = compiled
            .program
            .ops
            .iter()
            .map(|o| o.kind.name())
            .filter(|n| !n.ends_with("I8") && *n != "Copy" && *n != "Transpose")
            .collect();
        assert!(floats.is_empty(), "{name} runs float operators: {floats:?}");
        let worst = check_reference_output(&data, name, &compiled, 1.0);
        println!(
            "{name}: max |diff| {worst} LSB, {}",
            memory_summary(name, &compiled)
        );
    }
}

/// The int8 KWS model classifies the 250 labelled development inputs like TFLite (92.0%).
#[test]
fn int8_kws_top1_on_the_development_set() {
    let Some(data) = reference_data() else { return };
    let compiled = compile_reference(&data, "kws_ref_model");
    let arrays = whittle::data::read_npz(&data.join("kws_dev.npz")).expect("kws_dev.npz");
    let get = |key: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, t)| t.clone())
            .expect(key)
    };
    let (x, y) = (get("x"), get("y").to_i64());
    let scores = Runner::new(&compiled.artifact)
        .expect("load")
        .run(&[x])
        .expect("run")[0]
        .to_f32();
    let correct = scores.chunks(12).zip(&y).filter(|(s, label)| {
        let best = (0..12).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap_or(0);
        best as i64 == **label
    });
    let top1 = correct.count() as f64 / y.len() as f64;
    println!("kws int8: top-1 {:.1}% on {} inputs", 100.0 * top1, y.len());
    assert!((top1 - 0.92).abs() < 1e-9, "top-1 {top1}");
}

/// The reference data directory, or `None` (saying so) when this machine lacks it.
fn reference_data() -> Option<PathBuf> {
    let data = shared_data();
    if data.is_none() {
        println!(
            "SKIPPED: reference models not found (set WHITTLE_SHARED_DATA to the data directory)"
        );
    }
    data
}

/// Compiles reference model `name` with default flags.
fn compile_reference(data: &Path, name: &str) -> Compiled {
    whittle::compile_path(
        &data.join(format!("models/{name}.onnx")),
        &CompileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs the model's reference input and asserts its output within `atol` of the reference
/// output; returns the largest difference.
fn check_reference_output(data: &Path, name: &str, compiled: &Compiled, atol: f32) -> f32 {
    let set = data.join(format!("testdata/{name}/test_data_set_0"));
    let (input, expected) = (
        npy(&set.join("input_0.npy")),
        npy(&set.join("output_0.npy")),
    );
    let output = Runner::new(&compiled.artifact)
        .expect("load")
        .run(&[input])
        .expect("run");
    compare(&output[0], &expected, atol, 0.0).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Asserts the arena within 1.05x of its lower bound; describes arena and artifact sizes.
fn memory_summary(name: &str, compiled: &Compiled) -> String {
    let (arena, bound) = (compiled.plan.arena_bytes, compiled.plan.lower_bound_bytes);
    assert!(
        arena as f64 <= 1.05 * bound as f64,
        "{name}: arena {arena} > 1.05 x {bound}"
    );
    format!(
        "arena {arena} B, lower bound {bound} B, artifact {} B",
        compiled.artifact.len()
    )
}
