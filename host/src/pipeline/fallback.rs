//! Accuracy-aware fallback: which layers hurt most when quantized, measured by the per-layer
//! signal-to-noise ratio and by how much of the loss keeping that one layer in float32 wins back.

use crate::ir::{Graph, Op};
use serde::Serialize;

/// How much one layer contributes to the quantization loss.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSensitivity {
    /// Layer (graph node) name, as `--keep-float` and `check` name it.
    pub layer: String,
    /// ONNX operator.
    pub op: String,
    /// SQNR of the layer's output in the fully quantized model, in dB (when it has an
    /// int8 counterpart).
    pub sqnr_db: Option<f64>,
    /// Mean KL divergence from the baseline with only this layer kept in float32.
    pub kl_mean_alone_float: f64,
    /// Top-1 accuracy with only this layer kept in float32 (classifiers with labels).
    pub top1_alone_float: Option<f64>,
    /// Mean KL divergence won back by keeping this layer in float32 (larger = more
    /// sensitive).
    pub kl_recovered: f64,
}

/// Layers that can be kept in float32: convolutions and dense layers, by node name.
pub fn candidates(float_graph: &Graph) -> Vec<(String, String, String)> {
    float_graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, Op::Conv(_) | Op::Linear { .. }))
        .map(|n| {
            let output = n
                .outputs
                .first()
                .map(|&v| float_graph.values[v].name.clone())
                .unwrap_or_default();
            (n.name.clone(), n.op_type.clone(), output)
        })
        .collect()
}

/// Orders layers most sensitive first: most KL won back, then lowest SQNR, then name.
pub fn rank(layers: &mut [LayerSensitivity]) {
    layers.sort_by(|a, b| {
        b.kl_recovered
            .total_cmp(&a.kl_recovered)
            .then(
                a.sqnr_db
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.sqnr_db.unwrap_or(f64::INFINITY)),
            )
            .then(a.layer.cmp(&b.layer))
    });
}

/// The SQNR of the layer whose float output is called `output`, from a comparison's layers
/// (named after the int8 tensors: `<output>.q` or `<output>`).
pub fn sqnr_of(output: &str, layers: &[crate::compare::LayerReport]) -> Option<f64> {
    layers
        .iter()
        .find(|l| {
            let base = l
                .name
                .trim_end_matches(".q")
                .trim_end_matches(".float")
                .trim_end_matches(".int8");
            base == output
        })
        .map(|l| l.sqnr_db)
}
