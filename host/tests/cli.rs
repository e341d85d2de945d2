//! The command line: the four core commands, their JSON, exit codes, and that a failed
//! command leaves no output file behind.

use std::path::{Path, PathBuf};
mod common;

use common::{text, whittle};
use whittle::Tensor;
use whittle::onnx::build::{Attr, GraphBuilder};

fn small_model(dir: &Path) -> PathBuf {
    let mut g = GraphBuilder::new("small", 13);
    let x = g.input("features", &[-1, 4]);
    let w = g.constant(
        "w",
        &Tensor::f32(vec![4, 3], (0..12).map(|i| i as f32 / 10.0).collect()),
    );
    let b = g.constant("b", &Tensor::f32(vec![3], vec![0.1, -0.2, 0.3]));
    let y = g.node("Gemm", &[&x, &w, &b], vec![]);
    let y = g.node("Relu", &[&y], vec![]);
    g.output(&y, &[-1, 3]);
    let path = dir.join("small.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

/// [`small_model`] compiled with default flags to `dir/small.wtl`.
fn compiled_small_model(dir: &Path) -> PathBuf {
    let model = small_model(dir);
    let wtl = dir.join("small.wtl");
    let out = whittle(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        wtl.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    wtl
}

fn unsupported_model(dir: &Path) -> PathBuf {
    let mut g = GraphBuilder::new("bad", 13);
    let x = g.input("x", &[1, 2, 4, 4]);
    let y = g.node(
        "InstanceNormalization",
        &[&x],
        vec![("epsilon", Attr::Float(1e-5))],
    );
    let z = g.node("Resize", &[&y], vec![]);
    g.output(&z, &[1, 2, 4, 4]);
    let path = dir.join("bad.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

#[test]
fn compile_inspect_run_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let wtl = dir.path().join("small.wtl");
    let out = whittle(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        wtl.to_str().unwrap(),
        "--target",
        "cortex-m4f",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("wrote"), "{}", text(&out));
    #[cfg(unix)]
    {
        // The artifact gets the mode of any file the user creates, not a temporary file's 0600.
        use std::os::unix::fs::PermissionsExt;
        let plain = dir.path().join("plain");
        std::fs::write(&plain, b"").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&wtl), mode(&plain));
    }

    let out = whittle(&["inspect", wtl.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in [
        "artifact_bytes",
        "weight_bytes",
        "arena_bytes",
        "arena_lower_bound_bytes",
        "ops",
        "target",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    assert_eq!(json["target"], "cortex-m4f");
    assert_eq!(json["ops"], serde_json::json!(["Dense"]));
    // A float Dense needs the runtime's float and dense operators, nothing else.
    assert_eq!(
        json["runtime_features"],
        serde_json::json!(["float", "dense"])
    );
    assert_eq!(
        json["artifact_bytes"].as_u64().unwrap() as usize,
        std::fs::metadata(&wtl).unwrap().len() as usize
    );

    let x = Tensor::f32(
        vec![3, 4],
        vec![
            1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0, -1.0, -1.0, -1.0,
        ],
    );
    let input = dir.path().join("x.npy");
    whittle::data::write_npy(&input, &x).unwrap();
    let output = dir.path().join("y.npy");
    let out = whittle(&[
        "run",
        wtl.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let y = whittle::data::read_npy(&output).unwrap();
    assert_eq!(y.shape, vec![3, 3]);
    let expected = [0.1, 0.0, 0.5, 0.4, 0.2, 0.8, 0.0, 0.0, 0.0]; // relu(x @ w + b), by hand
    for (a, e) in y.to_f32().iter().zip(expected) {
        assert!((a - e).abs() < 1e-6, "{:?}", y.to_f32());
    }
}

#[test]
fn unsupported_model_fails_listing_every_node_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = unsupported_model(dir.path());
    let wtl = dir.path().join("bad.wtl");
    let out = whittle(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        wtl.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let msg = text(&out);
    assert!(
        msg.contains("InstanceNormalization") && msg.contains("Resize"),
        "{msg}"
    );
    assert!(!wtl.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "stray files left behind"
    );

    let out = whittle(&["check", model.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("unsupported"), "{}", text(&out));
    let out = whittle(&["check", small_model(dir.path()).to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["compiles"], true);
}

#[test]
fn unwritable_output_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let target = dir.path().join("no/such/dir/out.wtl");
    let out = whittle(&[
        "compile",
        model.to_str().unwrap(),
        "-o",
        target.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no/such/dir/out.wtl"), "{}", text(&out));
}

#[test]
fn damaged_artifact_is_refused_by_inspect_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compiled_small_model(dir.path());
    let mut bytes = std::fs::read(&wtl).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x10;
    std::fs::write(&wtl, &bytes).unwrap();
    let out = whittle(&["inspect", wtl.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("CRC-32"), "{}", text(&out));
}

#[test]
fn wrong_input_shape_names_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compiled_small_model(dir.path());
    let input = dir.path().join("x.npy");
    whittle::data::write_npy(&input, &Tensor::f32(vec![2, 5], vec![0.0; 10])).unwrap();
    let output = dir.path().join("y.npy");
    let out = whittle(&[
        "run",
        wtl.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let msg = text(&out);
    assert!(msg.contains("[2, 5]") && msg.contains("[1, 4]"), "{msg}");
    assert!(!output.exists());
}

#[test]
fn targets_are_listed() {
    let out = whittle(&["targets"]);
    assert!(out.status.success());
    for name in [
        "cortex-m0plus",
        "cortex-m4f",
        "riscv32imac",
        "aarch64-a53",
        "x86_64-avx2",
    ] {
        assert!(text(&out).contains(name), "{name} missing");
    }
    // Each profile's channel multiple is listed.
    let avx2 = text(&out)
        .lines()
        .find(|l| l.starts_with("x86_64-avx2"))
        .map(str::to_string)
        .unwrap_or_default();
    assert!(avx2.contains(" x8 "), "{avx2}");
}

fn gesture(file: &str) -> String {
    format!("{}/../examples/gesture/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn quantize_eval_and_compare_the_example() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = dir.path().join("g8.wtl");
    let out = whittle(&[
        "compile",
        &gesture("gesture.onnx"),
        "-o",
        wtl.to_str().unwrap(),
        "--quantize",
        "int8",
        "--calib",
        &gesture("data/train.npz"),
        "--calib-samples",
        "300",
        "--target",
        "cortex-m3",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    let out = whittle(&[
        "eval",
        wtl.to_str().unwrap(),
        "--data",
        &gesture("data/test.npz"),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["samples"], 500);
    assert!(json["top1"].as_f64().unwrap() > 0.95, "{json}");
    assert!(json["top5"].as_f64().is_some() && json["per_class"].as_array().unwrap().len() == 5);

    let out = whittle(&[
        "compare",
        &gesture("gesture.onnx"),
        wtl.to_str().unwrap(),
        "--data",
        &gesture("data/val.npz"),
        "--samples",
        "40",
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["samples"], 40);
    assert!(json["top1_agreement"].as_f64().unwrap() >= 0.95, "{json}");
    let layers = json["layers"].as_array().unwrap();
    assert!(
        layers.len() >= 6 && layers.iter().all(|l| l["sqnr_db"].as_f64().unwrap() > 15.0),
        "{json}"
    );
}

#[test]
fn quantization_flags_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = dir.path().join("x.wtl");
    let out = whittle(&[
        "compile",
        &gesture("gesture.onnx"),
        "-o",
        wtl.to_str().unwrap(),
        "--quantize",
        "int8",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--calib"), "{}", text(&out));
    let out = whittle(&[
        "compile",
        &gesture("gesture.onnx"),
        "-o",
        wtl.to_str().unwrap(),
        "--quantize",
        "int4",
        "--calib",
        &gesture("data/train.npz"),
    ]);
    assert!(text(&out).contains("int4"), "{}", text(&out));
    let out = whittle(&[
        "compile",
        &gesture("gesture.onnx"),
        "-o",
        wtl.to_str().unwrap(),
        "--quantize",
        "int8",
        "--calib",
        &gesture("data/train.npz"),
        "--calib-method",
        "median",
    ]);
    assert!(
        text(&out).contains("unknown calibration method 'median'"),
        "{}",
        text(&out)
    );
    let out = whittle(&[
        "eval",
        &gesture("gesture.onnx"),
        "--data",
        &gesture("data/test.npz"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("not a valid artifact"),
        "{}",
        text(&out)
    );
    assert!(!wtl.exists());
}

#[test]
fn validation_vectors_are_embedded_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = dir.path().join("v.wtl");
    let gesture_onnx = gesture("gesture.onnx");
    let test_data = gesture("data/test.npz");
    let compile = |extra: &[&str]| {
        let mut args = vec![
            "compile",
            &gesture_onnx,
            "-o",
            wtl.to_str().unwrap(),
            "--target",
            "cortex-m4f",
        ];
        args.extend_from_slice(extra);
        whittle(&args)
    };
    let out = compile(&["--embed-validation", "4", "--validation-data", &test_data]);
    assert!(out.status.success(), "{}", text(&out));
    let out = whittle(&["inspect", wtl.to_str().unwrap(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    // 4 x (192 input floats + 5 output floats) x 4 bytes, and one checksum per operator.
    let ops = json["ops"].as_array().unwrap().len() as u64;
    assert_eq!(json["validation"]["vectors"], 4);
    assert_eq!(
        json["validation"]["bytes"].as_u64().unwrap(),
        4 * (192 + 5) * 4 + 4 * ops
    );
    std::fs::remove_file(&wtl).unwrap();
    for (extra, needle) in [
        (vec!["--embed-validation", "4"], "--validation-data"),
        (
            vec!["--embed-validation", "900", "--validation-data", &test_data],
            "500 sample(s)",
        ),
    ] {
        let out = compile(&extra);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
        assert!(!wtl.exists());
    }
}

#[test]
fn bench_times_every_operator() {
    let dir = tempfile::tempdir().unwrap();
    let wtl = compiled_small_model(dir.path());
    let out = whittle(&["bench", wtl.to_str().unwrap(), "--runs", "7", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["runs"], 7);
    let (median, p90) = (
        json["median_us"].as_f64().unwrap(),
        json["p90_us"].as_f64().unwrap(),
    );
    assert!(median > 0.0 && p90 >= median, "{json}");
    let ops = json["ops"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{json}");
    assert_eq!(ops[0]["op"], "Dense");
    assert_eq!(ops[0]["kernel"], "reference");
    assert!(
        (ops[0]["share"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{json}"
    );
    let out = whittle(&["bench", wtl.to_str().unwrap(), "--runs", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--runs"), "{}", text(&out));
}
