//! Unstructured magnitude pruning: the smallest-magnitude weights of Conv, Gemm and MatMul
//! constants are set to zero, the model keeps its shapes. It saves nothing by itself; an int8
//! compilation stores such weights sparse where that is smaller (docs/sparse.md).

use super::PruneError;
use super::write::{constant, inline_external, replace_constant};
use crate::onnx::pb;
use crate::tensor::Tensor;
use std::path::Path;

/// How many weights to zero.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparsityOptions {
    /// Share of the weights to set to zero, in [0, 1).
    pub sparsity: f64,
    /// Rank all layers' weights together instead of zeroing the same share in each.
    pub global: bool,
}

/// One weight tensor after pruning.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSparsity {
    /// The constant's name.
    pub tensor: String,
    /// The node reading it.
    pub node: String,
    /// That node's operator.
    pub op: String,
    /// Weights in the tensor.
    pub weights: usize,
    /// Zeros before pruning.
    pub zeros_before: usize,
    /// Zeros after.
    pub zeros_after: usize,
}

/// The model with the weights zeroed, and what happened to each weight tensor.
#[derive(Debug, Clone)]
pub struct Sparsified {
    /// The edited model.
    pub model: pb::ModelProto,
    /// Per weight tensor, in node order.
    pub layers: Vec<LayerSparsity>,
}

/// Zeros the smallest-magnitude weights (input 1) of every Conv, Gemm and MatMul whose weights
/// are a float32 constant. Each tensor is edited once even when several nodes read it.
pub fn sparsify(
    model: &pb::ModelProto,
    dir: Option<&Path>,
    opts: &SparsityOptions,
) -> Result<Sparsified, PruneError> {
    if !(0.0..1.0).contains(&opts.sparsity) {
        return Err(PruneError::Options(format!(
            "--sparsity must be in [0, 1), not {}",
            opts.sparsity
        )));
    }
    let mut model = model.clone();
    let Some(graph) = model.graph.as_mut() else {
        return Err(PruneError::Options("the model has no graph".into()));
    };
    inline_external(graph, dir).map_err(PruneError::Options)?;
    let mut layers: Vec<(LayerSparsity, Tensor)> = Vec::new();
    for node in &graph.node {
        if !matches!(node.op_type.as_str(), "Conv" | "Gemm" | "MatMul") {
            continue;
        }
        let Some(name) = node.input.get(1) else {
            continue;
        };
        if layers.iter().any(|(l, _)| &l.tensor == name) {
            continue;
        }
        // A MatMul of two activations has no constant to prune.
        let Some(t) = constant(graph, name, None) else {
            continue;
        };
        let Some(values) = t.as_f32() else {
            continue;
        };
        let zeros = values.iter().filter(|v| **v == 0.0).count();
        layers.push((
            LayerSparsity {
                tensor: name.clone(),
                node: node.name.clone(),
                op: node.op_type.clone(),
                weights: values.len(),
                zeros_before: zeros,
                zeros_after: zeros,
            },
            t,
        ));
    }
    if layers.is_empty() {
        return Err(PruneError::Options(
            "no Conv, Gemm or MatMul has float32 constant weights to prune".into(),
        ));
    }
    // Every weight as (layer, index), ranked by magnitude; ties by position, so the result
    // does not depend on the sort.
    let ranked = |layer: usize, t: &Tensor| -> Vec<(f32, usize, usize)> {
        t.as_f32()
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .map(|(i, v)| (v.abs(), layer, i))
            .collect()
    };
    let mut pools: Vec<Vec<(f32, usize, usize)>> = if opts.global {
        vec![
            layers
                .iter()
                .enumerate()
                .flat_map(|(k, (_, t))| ranked(k, t))
                .collect(),
        ]
    } else {
        layers
            .iter()
            .enumerate()
            .map(|(k, (_, t))| ranked(k, t))
            .collect()
    };
    let mut data: Vec<Vec<f32>> = layers.iter().map(|(_, t)| t.to_f32()).collect();
    for pool in &mut pools {
        pool.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let count = (opts.sparsity * pool.len() as f64).round() as usize;
        for &(_, layer, i) in pool.iter().take(count) {
            data[layer][i] = 0.0;
        }
    }
    let mut report = Vec::with_capacity(layers.len());
    for ((mut layer, t), values) in layers.into_iter().zip(data) {
        layer.zeros_after = values.iter().filter(|v| **v == 0.0).count();
        let edited = Tensor::f32(t.shape.clone(), values);
        replace_constant(graph, &layer.tensor, &edited).map_err(|reason| PruneError::Tensor {
            tensor: layer.tensor.clone(),
            shape: t.shape.clone(),
            node: layer.node.clone(),
            op: layer.op.clone(),
            reason,
        })?;
        report.push(layer);
    }
    Ok(Sparsified {
        model,
        layers: report,
    })
}
