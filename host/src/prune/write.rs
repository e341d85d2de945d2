//! Editing an ONNX model in place: replacing constants (initializers or Constant nodes),
//! setting node attributes, inserting nodes. Everything else in the file is kept as it was.

use crate::onnx::build::tensor_to_proto;
use crate::onnx::pb;
use crate::onnx::read::tensor_from_proto;
use crate::tensor::Tensor;
use std::path::Path;

/// The node producing `name`, if any.
pub fn producer_mut<'a>(
    graph: &'a mut pb::GraphProto,
    name: &str,
) -> Option<&'a mut pb::NodeProto> {
    graph
        .node
        .iter_mut()
        .find(|n| n.output.iter().any(|o| o == name))
}

/// Index of the node producing `name`.
pub fn producer_index(graph: &pb::GraphProto, name: &str) -> Option<usize> {
    graph
        .node
        .iter()
        .position(|n| n.output.iter().any(|o| o == name))
}

/// The contents of constant `name`: an initializer or the output of a Constant node.
pub fn constant(graph: &pb::GraphProto, name: &str, dir: Option<&Path>) -> Option<Tensor> {
    if let Some(init) = graph.initializer.iter().find(|i| i.name == name) {
        return tensor_from_proto(init, dir).ok();
    }
    let node = graph
        .node
        .iter()
        .find(|n| n.op_type == "Constant" && n.output.first().is_some_and(|o| o == name))?;
    let value = node.attribute.iter().find(|a| a.name == "value")?;
    tensor_from_proto(value.t.as_ref()?, dir).ok()
}

/// Replaces constant `name` by `t` (same element type). Only initializers and Constant
/// nodes' `value` can be rewritten; a weight computed by other nodes cannot.
pub fn replace_constant(graph: &mut pb::GraphProto, name: &str, t: &Tensor) -> Result<(), String> {
    let proto = tensor_to_proto(name, t);
    if let Some(init) = graph.initializer.iter_mut().find(|i| i.name == name) {
        if init.data_type != proto.data_type {
            return Err(format!(
                "its element type (ONNX type {}) cannot be rewritten; only float32 and integer constants are",
                init.data_type
            ));
        }
        *init = proto;
        // Old exporters also list initializers as graph inputs, with their shape.
        for input in graph.input.iter_mut().filter(|i| i.name == name) {
            *input = crate::onnx::build::value_info(
                name,
                t.dtype,
                &t.shape.iter().map(|&d| d as i64).collect::<Vec<_>>(),
            );
        }
        return Ok(());
    }
    let Some(node) = producer_mut(graph, name) else {
        return Err("it is neither an initializer nor produced by a node".into());
    };
    if node.op_type != "Constant" {
        return Err(format!(
            "it is computed by node '{}' ({}); only initializers and Constant nodes can be pruned",
            node.name, node.op_type
        ));
    }
    let Some(value) = node.attribute.iter_mut().find(|a| a.name == "value") else {
        return Err("its Constant node has no tensor 'value' attribute".into());
    };
    let old = value.t.as_ref().map_or(0, |t| t.data_type);
    if old != proto.data_type {
        return Err(format!(
            "its element type (ONNX type {old}) cannot be rewritten; only float32 and integer constants are"
        ));
    }
    value.t = Some(tensor_to_proto("", t));
    Ok(())
}

/// Sets integer attribute `attr` of the node producing `output`.
pub fn set_int_attribute(
    graph: &mut pb::GraphProto,
    output: &str,
    attr: &str,
    value: i64,
) -> Result<(), String> {
    use pb::attribute_proto::AttributeType;
    let node = producer_mut(graph, output).ok_or_else(|| format!("no node produces '{output}'"))?;
    match node.attribute.iter_mut().find(|a| a.name == attr) {
        Some(a) => a.i = value,
        None => node.attribute.push(pb::AttributeProto {
            name: attr.to_string(),
            r#type: AttributeType::Int as i32,
            i: value,
            ..Default::default()
        }),
    }
    Ok(())
}

/// Drops the declared shapes of `names` (intermediate `value_info`), which pruning changed;
/// readers infer them again.
pub fn forget_shapes(graph: &mut pb::GraphProto, names: &std::collections::HashSet<String>) {
    graph.value_info.retain(|v| !names.contains(&v.name));
}

/// Copies tensors stored in external files into the model, so that the pruned model does not
/// depend on where it is written.
pub fn inline_external(graph: &mut pb::GraphProto, dir: Option<&Path>) -> Result<(), String> {
    let external = pb::tensor_proto::DataLocation::External as i32;
    for init in graph
        .initializer
        .iter_mut()
        .filter(|i| i.data_location == Some(external))
    {
        let t = tensor_from_proto(init, dir)
            .map_err(|e| format!("initializer '{}': {e}", init.name))?;
        let proto = tensor_to_proto(&init.name, &t);
        if proto.data_type != init.data_type {
            return Err(format!(
                "initializer '{}' is stored externally as ONNX type {}, which cannot be copied into the pruned model",
                init.name, init.data_type
            ));
        }
        *init = proto;
    }
    Ok(())
}
