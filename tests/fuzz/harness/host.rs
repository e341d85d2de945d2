//! The compiler's readers on arbitrary bytes: each returns a typed error naming what is
//! wrong, never panics, and whatever it accepts is consistent.

use crate::runtime::Reached;
use whittle::onnx::read::model_from_bytes;
use whittle::{CompileOptions, compile};
use whittle_runtime::{AlignedBytes, Model};

/// `.npy` and `.npz` images: read, and what reads has as many elements as its shape says.
/// Returns whether the bytes were read.
pub fn npz(bytes: &[u8]) -> bool {
    let arrays = match whittle::data::parse_npz(bytes, "fuzz.npz") {
        Ok(arrays) => arrays,
        Err(_) => match whittle::data::parse_npy(bytes, "fuzz.npy") {
            Ok(tensor) => vec![("fuzz".to_string(), tensor)],
            Err(_) => return false,
        },
    };
    for (name, tensor) in &arrays {
        let elements: usize = tensor.shape.iter().product();
        assert_eq!(elements, tensor.len(), "array '{name}' {:?}", tensor.shape);
    }
    true
}

/// ONNX bytes → `check` and `compile` for the generic target; what compiles must load in
/// the runtime and run. Returns how far the model got in the runtime, `None` when it did not
/// compile.
pub fn onnx_import(bytes: &[u8]) -> Option<Reached> {
    let Ok(model) = model_from_bytes(bytes) else {
        return None;
    };
    let options = CompileOptions::default();
    let _ = whittle::compile::check(&model, None, &options);
    let compiled = compile(&model, None, &options).ok()?;
    let artifact = AlignedBytes::new(&compiled.artifact);
    if let Err(err) = Model::load(&artifact) {
        panic!("the compiler wrote an artifact the runtime refuses: {err:?}");
    }
    Some(crate::runtime::load_and_run(&compiled.artifact))
}

/// Bundle bytes → the offline verifier (without a key, so everything past the signature is
/// reached). Returns whether it verified.
pub fn bundle_verify(bytes: &[u8]) -> bool {
    let Ok(verified) = whittle::bundle::verify(bytes, None, None) else {
        return false;
    };
    assert!(
        verified
            .files
            .iter()
            .any(|f| f.path == whittle::bundle::MODEL),
        "a verified bundle without a model"
    );
    true
}
