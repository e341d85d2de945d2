//! Removing the selected channels: every coupled constant is sliced, depthwise `group`s and
//! Reshape targets follow the new channel counts, and the result is written as ONNX.

use super::error::PruneError;
use super::groups::Dependencies;
use super::write;
use crate::error::CompileError;
use crate::ir::{Graph, ValueId};
use crate::onnx::pb;
use crate::tensor::{Tensor, TensorData};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

/// `t` with only the indices `keep` along `axis`.
pub fn take(t: &Tensor, axis: usize, keep: &[usize]) -> Tensor {
    let outer: usize = t.shape[..axis].iter().product();
    let len = t.shape[axis];
    let inner: usize = t.shape[axis + 1..].iter().product();
    let index = (0..outer).flat_map(|o| {
        keep.iter()
            .flat_map(move |&k| (0..inner).map(move |i| (o * len + k) * inner + i))
    });
    let data = match &t.data {
        TensorData::Float(v) => TensorData::Float(index.map(|i| v[i]).collect()),
        TensorData::Int(v) => TensorData::Int(index.map(|i| v[i]).collect()),
    };
    let mut shape = t.shape.clone();
    shape[axis] = keep.len();
    Tensor {
        dtype: t.dtype,
        shape,
        data,
    }
}

/// The constants that change, sliced along every axis their slots name.
fn sliced_constants(
    g: &Graph,
    deps: &Dependencies,
    removed: &BTreeSet<usize>,
) -> BTreeMap<ValueId, (Tensor, usize)> {
    let mut out: BTreeMap<ValueId, (Tensor, usize)> = BTreeMap::new();
    let mut done: HashSet<(ValueId, usize)> = HashSet::new();
    for slot in &deps.slots {
        // Tied slots along one axis were unified: the first one decides for all.
        if !done.insert((slot.value, slot.axis)) {
            continue;
        }
        let keep = deps.keep(&slot.layout, removed);
        if keep.len() == slot.layout.len() {
            continue;
        }
        let Some(original) = g.konst(slot.value) else {
            continue;
        };
        let current = out
            .remove(&slot.value)
            .map_or_else(|| original.clone(), |(t, _)| t);
        out.insert(slot.value, (take(&current, slot.axis, &keep), slot.node));
    }
    out
}

/// The pruned model: a copy of `model` with the classes in `removed` gone.
pub fn apply(
    model: &pb::ModelProto,
    dir: Option<&Path>,
    g: &Graph,
    deps: &Dependencies,
    removed: &BTreeSet<usize>,
) -> Result<pb::ModelProto, PruneError> {
    let mut model = model.clone();
    let Some(graph) = model.graph.as_mut() else {
        return Err(PruneError::Options("the model has no graph".into()));
    };
    let tensor_error = |value: ValueId, node: usize, reason: String| PruneError::Tensor {
        tensor: g.values[value].name.clone(),
        shape: g.shape(value).to_vec(),
        node: g.nodes[node].name.clone(),
        op: g.nodes[node].op_type.clone(),
        reason,
    };
    write::inline_external(graph, dir)
        .map_err(|e| PruneError::Import(CompileError::Malformed(e)))?;
    for (value, (t, node)) in sliced_constants(g, deps, removed) {
        write::replace_constant(graph, &g.values[value].name, &t)
            .map_err(|reason| tensor_error(value, node, reason))?;
    }
    for (node, layout) in &deps.depthwise {
        let channels = deps.keep(layout, removed).len();
        if channels == layout.len() {
            continue;
        }
        let output = &g.values[g.nodes[*node].outputs[0]].name;
        write::set_int_attribute(graph, output, "group", channels as i64)
            .map_err(|reason| tensor_error(g.nodes[*node].outputs[0], *node, reason))?;
    }
    for (node, layout) in &deps.reshapes {
        let columns = deps.keep(layout, removed).len();
        if columns == layout.len() {
            continue;
        }
        let output = &g.values[g.nodes[*node].outputs[0]].name;
        let shape_name = write::producer_mut(graph, output)
            .and_then(|n| n.input.get(1).cloned())
            .unwrap_or_default();
        let shape_error = |reason: String| PruneError::Tensor {
            tensor: shape_name.clone(),
            shape: Vec::new(),
            node: g.nodes[*node].name.clone(),
            op: g.nodes[*node].op_type.clone(),
            reason,
        };
        let shape = write::constant(graph, &shape_name, dir).ok_or_else(|| {
            shape_error("the target shape of this Reshape is not a constant".into())
        })?;
        let mut dims = shape.to_i64();
        // 0 copies the input's dimension and -1 is inferred: both follow by themselves.
        if let Some(d) = dims.get_mut(1).filter(|d| **d > 0) {
            *d = columns as i64;
        }
        let new = Tensor::int(shape.dtype, shape.shape.clone(), dims);
        write::replace_constant(graph, &shape_name, &new).map_err(shape_error)?;
    }
    let changed: HashSet<String> = deps
        .layouts
        .iter()
        .enumerate()
        .filter_map(|(v, l)| l.as_ref().map(|l| (v, l)))
        .filter(|(_, l)| deps.keep(l, removed).len() != l.len())
        .map(|(v, _)| g.values[v].name.clone())
        .collect();
    write::forget_shapes(graph, &changed);
    Ok(model)
}
