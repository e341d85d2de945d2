//! Writing trained weights back into the student's ONNX model: the same graph with new
//! initializer (or Constant node) values; everything else in the file is kept.

use super::error::DistillError;
use super::student::Param;
use crate::onnx::build::tensor_to_proto;
use crate::onnx::pb;
use crate::tensor::Tensor;

const FLOAT: i32 = 1;

/// Whether constant `name` can be rewritten: a float32 initializer or Constant node.
pub fn writable(graph: &pb::GraphProto, name: &str) -> Result<(), String> {
    let check = |t: i32| {
        if t == FLOAT {
            Ok(())
        } else {
            Err(format!(
                "it is stored as ONNX type {t}; only float32 weights are trained"
            ))
        }
    };
    if let Some(init) = graph.initializer.iter().find(|i| i.name == name) {
        return check(init.data_type);
    }
    match graph
        .node
        .iter()
        .find(|n| n.output.iter().any(|o| o == name))
    {
        Some(n) if n.op_type == "Constant" => {
            match n
                .attribute
                .iter()
                .find(|a| a.name == "value")
                .and_then(|a| a.t.as_ref())
            {
                Some(t) => check(t.data_type),
                None => Err("its Constant node has no tensor 'value' attribute".into()),
            }
        }
        Some(n) => Err(format!(
            "it is computed by node '{}' ({}) when the model is imported; only initializers and Constant nodes can be trained",
            n.name, n.op_type
        )),
        None => Err("it is neither an initializer nor produced by a node".into()),
    }
}

/// `model` with every parameter's current values in place of the old ones.
pub fn with_weights(
    model: &pb::ModelProto,
    params: &[Param],
) -> Result<pb::ModelProto, DistillError> {
    let mut model = model.clone();
    let Some(graph) = model.graph.as_mut() else {
        return Err(DistillError::Options("the model has no graph".into()));
    };
    for p in params {
        let values: Vec<f32> = p
            .var
            .as_tensor()
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        let t = Tensor::f32(p.shape.clone(), values);
        if let Some(init) = graph.initializer.iter_mut().find(|i| i.name == p.name) {
            *init = tensor_to_proto(&p.name, &t);
            continue;
        }
        let value = graph
            .node
            .iter_mut()
            .find(|n| n.op_type == "Constant" && n.output.iter().any(|o| o == &p.name))
            .and_then(|n| n.attribute.iter_mut().find(|a| a.name == "value"));
        match value {
            Some(a) => a.t = Some(tensor_to_proto("", &t)),
            None => {
                return Err(DistillError::Weight {
                    tensor: p.name.clone(),
                    shape: p.shape.clone(),
                    node: "-".into(),
                    op: "-".into(),
                    reason: "it is no longer in the model".into(),
                });
            }
        }
    }
    Ok(model)
}
