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
            .filter(|n| !n.contains("I8") && *n != "Copy" && *n != "Transpose")
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

/// The release gate on the float KWS model: calibrated on the first 100 development inputs,
/// measured on the other 150, with per-class drops and the KL divergence in the report.
#[test]
fn kws_pipeline_reports_per_class_drops_and_kl() {
    let Some(data) = reference_data() else { return };
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("kws.toml");
    let classes = [
        "down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown",
    ];
    let text = format!(
        r#"
[model]
path = "{model}"
[data]
calibration = "{dev}"
validation = "{dev}"
calibration_rows = [0, 100]
validation_rows = [100, 250]
input_scale = 0.5847029
input_zero_point = 83
classes = {classes:?}
[target]
profile = "cortex-m4f"
[quantize]
scheme = "int8"
calibration = "mse"
[gates]
max_top1_drop = 0.02
max_kl = 0.05
min_agreement = 0.9
[output]
artifact = "kws-int8.wtl"
"#,
        model = data.join("models/kws_ref_model_float32.onnx").display(),
        dev = data.join("kws_dev.npz").display(),
    );
    std::fs::write(&config, text).expect("write the pipeline file");
    let outcome = whittle::pipeline::run(&config).expect("the KWS pipeline runs");
    let r = &outcome.report;
    let last = r.last();
    let c = last
        .metrics
        .classification
        .as_ref()
        .expect("classification");
    assert_eq!(last.metrics.samples, 150);
    assert_eq!(c.classes.iter().map(|g| g.samples).sum::<usize>(), 150);
    assert!(c.classes.iter().all(|g| classes.contains(&g.name.as_str())));
    let worst = c
        .classes
        .iter()
        .max_by(|a, b| a.drop.total_cmp(&b.drop))
        .expect("classes");
    println!(
        "kws pipeline: {}; top-1 {:.2}% (drop {:.2} pts), worst class '{}' drop {:.2} pts, KL mean {:.5} p95 {:.5}, agreement {:.2}%",
        if r.passed { "passed" } else { "failed" },
        100.0 * c.top1,
        100.0 * c.top1_drop,
        worst.name,
        100.0 * worst.drop,
        last.metrics.kl_mean,
        last.metrics.kl_p95,
        100.0 * last.metrics.agreement
    );
    assert!(last.metrics.kl_mean.is_finite() && last.metrics.kl_mean > 0.0);
    assert!(r.passed, "{}", r.verdict);
}
