//! Checks on pruned models: shapes as whittle imports them, outputs against the mask-based
//! reference in tract, MACs as `whittle inspect` counts them.

use prost::Message;
use std::path::{Path, PathBuf};
use whittle::Tensor;
use whittle::import::{ImportOptions, import};
use whittle::onnx::pb;
use whittle::prune::{Analysis, Selection};

pub(crate) fn analyse(path: &Path) -> (pb::ModelProto, Analysis) {
    let model = whittle::compile::load_onnx(path).unwrap();
    let analysis = Analysis::new(&model, path.parent(), &ImportOptions::default()).unwrap();
    (model, analysis)
}

pub(crate) fn write(dir: &Path, name: &str, model: &pb::ModelProto) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, model.encode_to_vec()).unwrap();
    path
}

/// Shapes of the named values of a model as whittle imports it.
pub(crate) fn shapes(model: &pb::ModelProto, names: &[&str]) -> Vec<Vec<usize>> {
    let imported = import(model, None, &ImportOptions::default()).unwrap();
    assert!(
        imported.unsupported.is_empty(),
        "{:?}",
        imported.unsupported
    );
    let g = imported.graph;
    names
        .iter()
        .map(|n| {
            let v = g.values.iter().find(|v| v.name == *n);
            v.unwrap_or_else(|| panic!("no value '{n}'"))
                .shape
                .clone()
                .unwrap()
        })
        .collect()
}

/// Runs the pruned model and the mask reference of the same selection in tract on `inputs`
/// and returns the largest difference of any output. `logits` is also made an output, so that
/// a softmax cannot hide differences.
pub(crate) fn pruned_vs_mask(
    dir: &Path,
    analysis: &Analysis,
    selection: &Selection,
    inputs: &[Tensor],
    logits: Option<&str>,
) -> f32 {
    let expose = |mut m: pb::ModelProto| {
        if let Some(name) = logits {
            // No shape: the pruned and the reference model declare none for inner values.
            let tensor = pb::type_proto::Tensor {
                elem_type: whittle::ElemType::F32.onnx_code(),
                shape: None,
            };
            m.graph.as_mut().unwrap().output.push(pb::ValueInfoProto {
                name: name.to_string(),
                r#type: Some(pb::TypeProto {
                    value: Some(pb::type_proto::Value::TensorType(tensor)),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        m
    };
    let pruned = write(
        dir,
        "pruned.onnx",
        &expose(analysis.apply(selection).unwrap()),
    );
    let masked = write(
        dir,
        "masked.onnx",
        &expose(analysis.mask_reference(selection).unwrap()),
    );
    let mut worst = 0.0f32;
    for x in inputs {
        let a = whittle::reference::run_tract(&pruned, std::slice::from_ref(x)).unwrap();
        let b = whittle::reference::run_tract(&masked, std::slice::from_ref(x)).unwrap();
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert_eq!(a.shape, b.shape);
            for (p, q) in a.to_f32().iter().zip(b.to_f32()) {
                worst = worst.max((p - q).abs());
            }
        }
    }
    worst
}

/// MACs of a compiled model as `whittle inspect` counts them (independent of the pruner).
pub(crate) fn compiled_macs(model: &pb::ModelProto) -> u64 {
    let compiled = whittle::compile(model, None, &whittle::CompileOptions::default()).unwrap();
    whittle::inspect::Summary::of(&compiled.artifact)
        .unwrap()
        .macs
}

/// Weight shapes of every Conv and Gemm of `model`, in node order.
pub(crate) fn conv_and_gemm_weights(model: &pb::ModelProto) -> Vec<Vec<usize>> {
    let g = model.graph.as_ref().unwrap();
    g.node
        .iter()
        .filter(|n| n.op_type == "Conv" || n.op_type == "Gemm")
        .map(|n| {
            let w = g.initializer.iter().find(|i| i.name == n.input[1]).unwrap();
            w.dims.iter().map(|&d| d as usize).collect()
        })
        .collect()
}
