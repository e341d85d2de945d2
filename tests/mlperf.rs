//! The MLPerf Tiny float reference models (read from `../shared/data` when present on this
//! machine): each compiles with default flags, matches the reference output within 1e-4
//! absolute, and gets an arena within 1.05x of its activation lower bound.

use whittle::CompileOptions;
use whittle::run::Runner;
use whittle_tests::{compare, npy, shared_data};

const MODELS: [&str; 4] = [
    "kws_ref_model_float32",
    "pretrainedResnet",
    "vww_96_float",
    "ad01_fp32",
];

#[test]
fn mlperf_tiny_float_models() {
    let Some(data) = shared_data() else {
        println!(
            "SKIPPED: reference models not found (set WHITTLE_SHARED_DATA to the data directory)"
        );
        return;
    };
    for name in MODELS {
        let compiled = whittle::compile_path(
            &data.join(format!("models/{name}.onnx")),
            &CompileOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let set = data.join(format!("testdata/{name}/test_data_set_0"));
        let (input, expected) = (
            npy(&set.join("input_0.npy")),
            npy(&set.join("output_0.npy")),
        );
        let output = Runner::new(&compiled.artifact)
            .expect("load")
            .run(&[input])
            .expect("run");
        let worst =
            compare(&output[0], &expected, 1e-4, 0.0).unwrap_or_else(|e| panic!("{name}: {e}"));
        let (arena, bound) = (compiled.plan.arena_bytes, compiled.plan.lower_bound_bytes);
        println!(
            "{name}: max |diff| {worst:.2e}, arena {arena} B, lower bound {bound} B, artifact {} B",
            compiled.artifact.len()
        );
        assert!(
            arena as f64 <= 1.05 * bound as f64,
            "{name}: arena {arena} > 1.05 x {bound}"
        );
    }
}
