//! `whittle bench --tract`: the float baseline's report has the artifact bench's shape and
//! positive times. Not a timing assertion: the numbers depend on the machine.

mod common;

use common::{text, whittle};

fn gesture(file: &str) -> String {
    format!("{}/../examples/gesture/{file}", env!("CARGO_MANIFEST_DIR"))
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = whittle(args);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn tract_bench_reports_latency_and_plan_nodes() {
    let model = gesture("gesture.onnx");
    let sample = gesture("sample.npy");
    // The sample file holds 8 samples; only the first is used (batch 1).
    let report = json(&[
        "bench", "--tract", &model, "--input", &sample, "--runs", "5", "--warmup", "1", "--json",
    ]);
    assert_eq!(report["runs"], 5, "{report}");
    for field in ["median_us", "p90_us", "min_us", "mean_us"] {
        let value = report[field].as_f64().unwrap_or(-1.0);
        assert!(value > 0.0, "{field}: {report}");
    }
    let (min, median, p90) = (
        report["min_us"].as_f64().unwrap(),
        report["median_us"].as_f64().unwrap(),
        report["p90_us"].as_f64().unwrap(),
    );
    assert!(min <= median && median <= p90, "{report}");
    let ops = report["ops"].as_array().expect("ops");
    assert!(!ops.is_empty(), "{report}");
    for op in ops {
        assert_eq!(op["kernel"], "tract", "{op}");
        assert!(op["op"].as_str().is_some_and(|s| !s.is_empty()), "{op}");
        assert!(op["median_us"].as_f64().is_some_and(|t| t >= 0.0), "{op}");
    }
    let shares: f64 = ops.iter().map(|op| op["share"].as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-6, "{report}");
}

#[test]
fn tract_bench_runs_on_zeros_and_prints_a_table() {
    let out = whittle(&["bench", "--tract", &gesture("gesture.onnx"), "--runs", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 runs, median"), "{stdout}");
    assert!(
        stdout.contains("tract optimized plan, batch 1, one thread"),
        "{stdout}"
    );
}

#[test]
fn tract_bench_names_what_is_wrong() {
    let model = gesture("gesture.onnx");
    let out = whittle(&["bench", "--tract", &model, "--runs", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--runs"), "{}", text(&out));

    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.npy");
    std::fs::write(&small, npy_f32(&[2], &[1.0, 2.0])).unwrap();
    let out = whittle(&[
        "bench",
        "--tract",
        &model,
        "--input",
        small.to_str().unwrap(),
        "--runs",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let message = text(&out);
    assert!(
        message.contains("gesture.onnx") && message.contains("elements per sample"),
        "{message}"
    );
}

/// A version-1 `.npy` file of little-endian f32.
fn npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| format!("{d},")).collect();
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}",
        dims.join(" ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}
