//! The compiler's readers on arbitrary bytes: each returns a typed error naming what is
//! wrong, never panics, and whatever it accepts is consistent.

use whittle::onnx::read::model_from_bytes;
use whittle::{CompileOptions, compile};
use whittle_runtime::{AlignedBytes, Model};

/// `.npy` and `.npz` images: read, and what reads has as many elements as its shape says.
pub fn npz(bytes: &[u8]) {
    let arrays = match whittle::data::parse_npz(bytes, "fuzz.npz") {
        Ok(arrays) => arrays,
        Err(_) => match whittle::data::parse_npy(bytes, "fuzz.npy") {
            Ok(tensor) => vec![("fuzz".to_string(), tensor)],
            Err(_) => return,
        },
    };
    for (name, tensor) in &arrays {
        let elements: usize = tensor.shape.iter().product();
        assert_eq!(elements, tensor.len(), "array '{name}' {:?}", tensor.shape);
    }
}

/// ONNX bytes → `check` and `compile` for the generic target; what compiles must load in
/// the runtime and run.
pub fn onnx_import(bytes: &[u8]) {
    let Ok(model) = model_from_bytes(bytes) else {
        return;
    };
    let options = CompileOptions::default();
    let _ = whittle::compile::check(&model, None, &options);
    let Ok(compiled) = compile(&model, None, &options) else {
        return;
    };
    let artifact = AlignedBytes::new(&compiled.artifact);
    if let Err(err) = Model::load(&artifact) {
        panic!("the compiler wrote an artifact the runtime refuses: {err:?}");
    }
    crate::runtime::load_and_run(&compiled.artifact);
}

/// Bundle bytes → the offline verifier (without a key, so everything past the signature is
/// reached).
pub fn bundle_verify(bytes: &[u8]) {
    if let Ok(verified) = whittle::bundle::verify(bytes, None, None) {
        assert!(
            verified.files.iter().any(|f| f.path == whittle::bundle::MODEL),
            "a verified bundle without a model"
        );
    }
}
