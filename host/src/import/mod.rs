//! ONNX -> IR: values and nodes, static shapes, constant folding. Every node that cannot be
//! compiled is collected, so one error lists them all.

mod eval;
mod infer;
mod parse;
pub mod shapes;
mod usable;

pub use parse::{CONSTANT_OPS, RUNTIME_OPS};

use crate::error::{CompileError, Unsupported};
use crate::ir::{Graph, Node, NodeFate, Op, Quant, Value, ValueId};
use crate::onnx::pb;
use crate::onnx::read::tensor_from_proto;
use crate::tensor::{ElemType, Tensor};
use std::collections::HashMap;
use std::path::Path;
use usable::{constant_inputs_usable, runtime_types};

/// Options that fix what the ONNX file leaves open.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Shapes for inputs with dynamic dimensions: `(Some(name), dims)`, or `(None, dims)` for
    /// the first input.
    pub input_shapes: Vec<(Option<String>, Vec<usize>)>,
    /// Inputs replaced by constants (for parameters a graph takes as inputs).
    pub frozen_inputs: Vec<(String, Tensor)>,
}

/// The imported graph plus every node that could not be handled.
pub struct Imported {
    /// The graph (folded nodes removed).
    pub graph: Graph,
    /// Nodes that cannot be compiled.
    pub unsupported: Vec<Unsupported>,
    /// Nodes that could not be analysed because an input depends on an unsupported node.
    pub blocked: Vec<(String, String)>,
}

/// Imports `model`; `model_dir` resolves external tensor data.
pub fn import(
    model: &pb::ModelProto,
    model_dir: Option<&Path>,
    opts: &ImportOptions,
) -> Result<Imported, CompileError> {
    let graph_proto = model
        .graph
        .as_ref()
        .ok_or_else(|| CompileError::Malformed("the model has no graph".into()))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);
    let mut g = Graph {
        opset,
        ..Graph::default()
    };
    let mut by_name: HashMap<String, ValueId> = HashMap::new();

    for init in &graph_proto.initializer {
        let t = tensor_from_proto(init, model_dir)
            .map_err(|e| CompileError::Malformed(format!("initializer '{}': {e}", init.name)))?;
        let id = g.add_constant(init.name.clone(), t);
        by_name.insert(init.name.clone(), id);
    }
    for (position, input) in graph_proto.input.iter().enumerate() {
        if by_name.contains_key(&input.name) {
            continue; // an initializer listed as input (old exporters): it stays constant
        }
        let value = match opts.frozen_inputs.iter().find(|(n, _)| n == &input.name) {
            Some((_, t)) => Value {
                name: input.name.clone(),
                dtype: t.dtype,
                shape: Some(t.shape.clone()),
                konst: Some(t.clone()),
                quant: None,
            },
            None => graph_input(input, position == 0, opts)?,
        };
        let is_const = value.konst.is_some();
        let id = g.add_value(value);
        by_name.insert(input.name.clone(), id);
        if !is_const {
            g.inputs.push(id);
        }
    }
    for (name, _) in &opts.input_shapes {
        if let Some(name) = name
            && !graph_proto.input.iter().any(|i| &i.name == name)
        {
            return Err(CompileError::Options(format!(
                "--input-shape names '{name}', which is not a model input"
            )));
        }
    }

    let mut unsupported = Vec::new();
    let order = topological_order(graph_proto, &by_name)?;
    let mut seen_names: HashMap<String, usize> = HashMap::new();
    for index in order {
        let node = &graph_proto.node[index];
        let base = if node.name.is_empty() {
            format!("{}_{index}", node.op_type)
        } else {
            node.name.clone()
        };
        let count = seen_names.entry(base.clone()).or_insert(0);
        let name = if *count == 0 {
            base.clone()
        } else {
            format!("{base}#{count}")
        };
        *count += 1;

        if node.op_type == "Constant" && (node.domain.is_empty() || node.domain == "ai.onnx") {
            let out = node.output.first().ok_or_else(|| {
                CompileError::Malformed(format!("Constant '{name}' has no output"))
            })?;
            match parse::constant_value(node) {
                Ok(t) => {
                    let id = g.add_constant(out.clone(), t);
                    by_name.insert(out.clone(), id);
                }
                Err(reason) => {
                    unsupported.push(Unsupported {
                        node: name.clone(),
                        op_type: node.op_type.clone(),
                        reason,
                    });
                    let id = g.add_value(Value {
                        name: out.clone(),
                        dtype: ElemType::F32,
                        shape: None,
                        konst: None,
                        quant: None,
                    });
                    by_name.insert(out.clone(), id);
                }
            }
            continue;
        }
        let inputs = node
            .input
            .iter()
            .map(|i| {
                if i.is_empty() {
                    Ok(None)
                } else {
                    by_name.get(i).copied().map(Some).ok_or(i)
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|missing| {
                CompileError::Malformed(format!(
                    "node '{name}' reads '{missing}', which nothing produces"
                ))
            })?;
        let outputs = node
            .output
            .iter()
            .map(|o| {
                let id = g.add_value(Value {
                    name: o.clone(),
                    dtype: ElemType::F32,
                    shape: None,
                    konst: None,
                    quant: None,
                });
                if !o.is_empty() {
                    by_name.insert(o.clone(), id);
                }
                id
            })
            .collect();
        g.nodes.push(Node {
            name,
            op_type: node.op_type.clone(),
            op: parse::parse_node(node, opset),
            inputs,
            outputs,
        });
    }

    for output in &graph_proto.output {
        let id = *by_name.get(&output.name).ok_or_else(|| {
            CompileError::Malformed(format!(
                "graph output '{}' is not produced by any node",
                output.name
            ))
        })?;
        g.outputs.push(id);
    }
    let blocked = analyse(&mut g, &mut unsupported);
    Ok(Imported {
        graph: g,
        unsupported,
        blocked,
    })
}

/// A graph input's value, with dynamic dimensions resolved.
fn graph_input(
    input: &pb::ValueInfoProto,
    first: bool,
    opts: &ImportOptions,
) -> Result<Value, CompileError> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let err = |reason: String| CompileError::Input {
        name: input.name.clone(),
        reason,
    };
    let tensor_type = match input.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(t)) => t,
        _ => return Err(err("is not a tensor".into())),
    };
    let dtype = ElemType::from_onnx(tensor_type.elem_type);
    let declared: Option<Vec<Option<usize>>> = tensor_type.shape.as_ref().map(|s| {
        s.dim
            .iter()
            .map(|d| match d.value {
                Some(Dim::DimValue(v)) if v >= 0 => Some(v as usize),
                _ => None,
            })
            .collect()
    });
    let given = opts
        .input_shapes
        .iter()
        .find(|(n, _)| n.as_deref() == Some(&input.name) || (n.is_none() && first))
        .map(|(_, s)| s.clone());
    let shape = match (declared, given) {
        (Some(declared), Some(given)) => {
            if declared.len() != given.len() {
                return Err(err(format!(
                    "--input-shape {given:?} has rank {}, the model says {}",
                    given.len(),
                    declared.len()
                )));
            }
            if let Some((axis, fixed)) = declared
                .iter()
                .enumerate()
                .find_map(|(i, d)| d.filter(|&d| d != given[i]).map(|d| (i, d)))
            {
                return Err(err(format!(
                    "--input-shape {given:?} contradicts the model's fixed dimension {axis} = {fixed}"
                )));
            }
            given
        }
        (None, Some(given)) => given,
        (None, None) => return Err(err("has no shape in the model; give --input-shape".into())),
        (Some(declared), None) => declared
            .iter()
            .enumerate()
            .map(|(axis, d)| match (d, axis) {
                (Some(v), _) => Ok(*v),
                (None, 0) => Ok(1), // dynamic batch
                (None, _) => Err(err(format!(
                    "dimension {axis} is dynamic; give --input-shape"
                ))),
            })
            .collect::<Result<_, _>>()?,
    };
    if !shape_in_range(&shape) {
        return Err(err(format!("shape {shape:?} is too large")));
    }
    Ok(Value {
        name: input.name.clone(),
        dtype,
        shape: Some(shape),
        konst: None,
        quant: None,
    })
}

/// Node indices in an order where every input is produced before it is read.
fn topological_order(
    graph: &pb::GraphProto,
    known: &HashMap<String, ValueId>,
) -> Result<Vec<usize>, CompileError> {
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for o in node.output.iter().filter(|o| !o.is_empty()) {
            if producer.insert(o, i).is_some() || known.contains_key(o) {
                return Err(CompileError::Malformed(format!(
                    "value '{o}' is produced twice"
                )));
            }
        }
    }
    // 0 = unvisited, 1 = on the stack, 2 = done
    let mut state = vec![0u8; graph.node.len()];
    let mut order = Vec::with_capacity(graph.node.len());
    for root in 0..graph.node.len() {
        let mut stack = vec![(root, 0usize)];
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            if *next == 0 {
                if state[n] == 2 {
                    stack.pop();
                    continue;
                }
                state[n] = 1;
            }
            let deps: Vec<usize> = graph.node[n]
                .input
                .iter()
                .filter_map(|i| producer.get(i.as_str()).copied())
                .collect();
            if let Some(&dep) = deps.get(*next) {
                *next += 1;
                match state[dep] {
                    0 => stack.push((dep, 0)),
                    1 => {
                        // From `dep` up, each node on the stack reads the next one's output
                        // and `n` reads `dep`'s: reversed, the cycle in data-flow order.
                        let at = stack.iter().position(|&(s, _)| s == dep).unwrap_or(0);
                        let named = |i: usize| {
                            let node = &graph.node[i];
                            match node.name.as_str() {
                                "" => format!("'{}_{i}' ({})", node.op_type, node.op_type),
                                name => format!("'{name}' ({})", node.op_type),
                            }
                        };
                        let mut path: Vec<String> =
                            stack[at..].iter().rev().map(|&(s, _)| named(s)).collect();
                        path.push(named(n));
                        return Err(CompileError::Malformed(format!(
                            "the graph has a cycle: {}",
                            path.join(" -> ")
                        )));
                    }
                    _ => {}
                }
            } else {
                state[n] = 2;
                order.push(n);
                stack.pop();
            }
        }
    }
    Ok(order)
}

/// Quantization of the constant output of a folded DequantizeLinear.
fn constant_quant(g: &Graph, node: &Node, axis: i64) -> Option<Quant> {
    let ints = g.konst(node.input(0)?)?.clone();
    let scale = g.konst(node.input(1)?)?.to_f32();
    let zero_point = match node.input(2) {
        Some(z) => g.konst(z)?.to_i64(),
        None => vec![0; scale.len()],
    };
    let axis = shapes::axis(axis, ints.shape.len().max(1)).ok()?;
    Some(Quant {
        scale,
        zero_point,
        axis,
        ints: Some(ints),
    })
}

/// Largest tensor whittle handles, in elements (1 GiB of float32).
pub const MAX_ELEMENTS: usize = 1 << 28;

/// Whether a shape's element count is within [`MAX_ELEMENTS`] (and does not overflow).
pub fn shape_in_range(shape: &[usize]) -> bool {
    shapes::checked_product(shape).is_some_and(|n| n <= MAX_ELEMENTS)
}

/// Infers shapes, folds constants and checks data types, node by node. Returns the nodes that
/// could not be analysed because an input is unknown.
fn analyse(g: &mut Graph, unsupported: &mut Vec<Unsupported>) -> Vec<(String, String)> {
    let mut blocked = Vec::new();
    let mut kept = Vec::with_capacity(g.nodes.len());
    for mut node in std::mem::take(&mut g.nodes) {
        let report = |reason: String| Unsupported {
            node: node.name.clone(),
            op_type: node.op_type.clone(),
            reason,
        };
        if let Op::Unsupported(reason) = &node.op {
            unsupported.push(report(reason.clone()));
            continue;
        }
        if node
            .inputs
            .iter()
            .flatten()
            .any(|&i| g.values[i].shape.is_none())
        {
            blocked.push((node.name.clone(), node.op_type.clone()));
            continue;
        }
        if let Err(reason) = constant_inputs_usable(g, &node) {
            unsupported.push(report(reason));
            continue;
        }
        let inferred = match infer::infer(&node, g) {
            Ok(inferred) => inferred,
            Err(reason) => {
                unsupported.push(report(reason));
                continue;
            }
        };
        if let Some((_, shape)) = inferred.outputs.iter().find(|(_, s)| !shape_in_range(s)) {
            unsupported.push(report(format!(
                "output shape {shape:?} is too large (over {MAX_ELEMENTS} elements)"
            )));
            continue;
        }
        if inferred.outputs.len() != node.outputs.len() {
            unsupported.push(report(format!(
                "produces {} outputs, the model expects {}",
                inferred.outputs.len(),
                node.outputs.len()
            )));
            continue;
        }
        node.op = inferred.op;
        node.inputs = inferred.inputs;
        for (&id, (dtype, shape)) in node.outputs.iter().zip(&inferred.outputs) {
            g.values[id].dtype = *dtype;
            g.values[id].shape = Some(shape.clone());
        }
        let all_const = node
            .inputs
            .iter()
            .flatten()
            .all(|&i| g.values[i].konst.is_some());
        let consts = match inferred.consts {
            Some(c) => Some(Ok(c)),
            None if all_const => {
                let inputs: Vec<Option<&Tensor>> = node
                    .inputs
                    .iter()
                    .map(|i| i.and_then(|i| g.values[i].konst.as_ref()))
                    .collect();
                eval::eval(&node.op, &inputs, &inferred.outputs)
            }
            None => None,
        };
        match consts {
            Some(Ok(tensors)) => {
                for (&id, t) in node.outputs.iter().zip(tensors) {
                    g.values[id].konst = Some(t);
                }
                if let Op::Dequantize { axis } = node.op {
                    // Keep the exact integers and parameters of quantized weights and biases.
                    let out = node.outputs[0];
                    g.values[out].quant = constant_quant(g, &node, axis);
                }
                g.record_fate(&node, NodeFate::Folded);
                continue;
            }
            Some(Err(reason)) => {
                unsupported.push(report(reason));
                continue;
            }
            None => {}
        }
        if let Err(reason) = runtime_types(g, &node) {
            unsupported.push(report(reason));
            continue;
        }
        kept.push(node);
    }
    g.nodes = kept;
    blocked
}
