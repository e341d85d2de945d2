//! The mask reference: the unpruned model with every removed channel multiplied by zero where
//! a Conv, Gemm or MatMul reads it. A removed channel then contributes nothing, which is what
//! removing it means, so the pruned model must compute the same outputs. Nothing is sliced
//! here, which makes it an independent check of the slicing.

use super::error::PruneError;
use super::groups::{Dependencies, Role};
use super::write;
use crate::ir::Graph;
use crate::onnx::build::tensor_to_proto;
use crate::onnx::pb;
use crate::tensor::Tensor;
use std::collections::BTreeSet;

/// A copy of `model` with masks in front of every reader of a removed channel.
pub fn mask_reference(
    model: &pb::ModelProto,
    g: &Graph,
    deps: &Dependencies,
    removed: &BTreeSet<usize>,
) -> Result<pb::ModelProto, PruneError> {
    let mut model = model.clone();
    let Some(graph) = model.graph.as_mut() else {
        return Err(PruneError::Options("the model has no graph".into()));
    };
    for slot in deps.slots.iter().filter(|s| s.role == Role::Consumer) {
        let keep = deps.keep(&slot.layout, removed);
        if keep.len() == slot.layout.len() {
            continue;
        }
        let node = &g.nodes[slot.node];
        let Some(x) = node.input(0) else { continue };
        let rank = g.shape(x).len();
        let mut shape = vec![1; rank];
        shape[1] = slot.layout.len();
        let mut mask = vec![0.0f32; slot.layout.len()];
        for k in keep {
            mask[k] = 1.0;
        }
        let output = &g.values[node.outputs[0]].name;
        let at = write::producer_index(graph, output).ok_or_else(|| PruneError::Tensor {
            tensor: output.clone(),
            shape: g.shape(node.outputs[0]).to_vec(),
            node: node.name.clone(),
            op: node.op_type.clone(),
            reason: "no node of the ONNX graph produces it".into(),
        })?;
        let input = graph.node[at].input[0].clone();
        let mask_name = format!("{output}.channel_mask");
        let masked = format!("{input}.masked_for.{output}");
        graph
            .initializer
            .push(tensor_to_proto(&mask_name, &Tensor::f32(shape, mask)));
        graph.node[at].input[0] = masked.clone();
        graph.node.insert(
            at,
            pb::NodeProto {
                name: format!("{output}.mask"),
                op_type: "Mul".into(),
                input: vec![input, mask_name],
                output: vec![masked],
                ..Default::default()
            },
        );
    }
    Ok(model)
}
