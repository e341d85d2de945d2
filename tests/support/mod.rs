//! Helpers shared by the end-to-end tests: locating fixtures, reading ONNX test tensors,
//! comparing outputs.

use std::path::{Path, PathBuf};
use whittle::Tensor;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

/// The reference models and data (`../shared/data` next to the workspace, or
/// `$WHITTLE_SHARED_DATA`), when present on this machine.
pub fn shared_data() -> Option<PathBuf> {
    let dir = std::env::var_os("WHITTLE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/data"));
    dir.join("models").is_dir().then_some(dir)
}

/// Reads a serialized ONNX `TensorProto` (`.pb`).
pub fn read_pb(path: &Path) -> Result<(String, Tensor), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let proto = whittle::onnx::read::tensor_proto_from_bytes(&bytes)?;
    let tensor = whittle::onnx::read::tensor_from_proto(&proto, None)?;
    Ok((proto.name, tensor))
}

/// Largest absolute difference, and whether every element is within `atol + rtol * |expected|`.
pub fn compare(actual: &Tensor, expected: &Tensor, atol: f32, rtol: f32) -> Result<f32, String> {
    let (a, e) = (actual.to_f32(), expected.to_f32());
    if a.len() != e.len() {
        return Err(format!(
            "{} elements, expected {} (shapes {:?} vs {:?})",
            a.len(),
            e.len(),
            actual.shape,
            expected.shape
        ));
    }
    let mut worst = 0f32;
    for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
        let same_special = (x.is_nan() && y.is_nan()) || (x.is_infinite() && x == y);
        let diff = (x - y).abs();
        let out_of_tolerance = diff.is_nan() || diff > atol + rtol * y.abs();
        if !same_special && out_of_tolerance {
            return Err(format!(
                "element {i}: got {x}, expected {y} (|diff| {diff})"
            ));
        }
        if diff.is_finite() {
            worst = worst.max(diff);
        }
    }
    Ok(worst)
}

/// Reads an `.npy` file as a tensor.
pub fn npy(path: &Path) -> Tensor {
    whittle::data::read_npy(path).unwrap_or_else(|e| panic!("{e}"))
}

pub mod fixtures;

/// Writes `bytes` to a file in a fresh temporary directory and returns both.
pub fn temp_model(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write model");
    (dir, path)
}
