//! Float parameters removed by a selection, computed from the slots without rebuilding the
//! model (the search for a flash budget asks often). Together with
//! [`super::parameter_count`] of the source model this gives the pruned model's count.

use super::groups::Dependencies;
use crate::ir::{Graph, ValueId};
use crate::onnx::pb;
use crate::tensor::TensorData;
use std::collections::{BTreeMap, BTreeSet};

/// Elements of the float constants that pruning `removed` takes away.
pub fn removed(g: &Graph, deps: &Dependencies, removed: &BTreeSet<usize>) -> u64 {
    let mut shapes: BTreeMap<ValueId, Vec<usize>> = BTreeMap::new();
    for slot in &deps.slots {
        let Some(t) = g.konst(slot.value) else {
            continue;
        };
        if !matches!(t.data, TensorData::Float(_)) {
            continue;
        }
        let kept = deps.keep(&slot.layout, removed).len();
        // Tied slots along one axis were unified: they agree on the count.
        shapes.entry(slot.value).or_insert_with(|| t.shape.clone())[slot.axis] = kept;
    }
    shapes
        .iter()
        .map(|(&v, shape)| {
            let before: usize = g.konst(v).map_or(0, |t| t.shape.iter().product());
            let after: usize = shape.iter().product();
            (before - after) as u64
        })
        .sum()
}

/// Number of weights in a model: the elements of its float initializers and Constant nodes.
pub fn parameter_count(model: &pb::ModelProto) -> usize {
    let Some(g) = model.graph.as_ref() else {
        return 0;
    };
    let float = |t: &pb::TensorProto| {
        matches!(t.data_type, 1 | 10 | 11 | 16)
            .then(|| t.dims.iter().product::<i64>().max(0) as usize)
    };
    let initializers: usize = g.initializer.iter().filter_map(float).sum();
    let constants: usize = g
        .node
        .iter()
        .filter(|n| n.op_type == "Constant")
        .flat_map(|n| n.attribute.iter().filter_map(|a| a.t.as_ref()))
        .filter_map(float)
        .sum();
    initializers + constants
}
