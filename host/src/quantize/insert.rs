//! Rewriting a calibrated float graph into QuantizeLinear/DequantizeLinear form: int8
//! per-channel weights, a quantize/dequantize pair after every activation, then the passes
//! that turn the pairs into int8 operators.

use super::QuantizeOptions;
use super::calibrate::Calibration;
use super::ranges::{Method, params};
use crate::error::{CompileError, Unsupported};
use crate::ir::{Graph, Node, NodeFate, Op, Quant, Value, ValueId};
use crate::passes::qdq;
use crate::tensor::{ElemType, Tensor};
use std::collections::{HashMap, HashSet};
use whittle_runtime::format::{PoolKind, UnaryKind};

/// Operators whose output keeps its input's quantization (no new parameters needed).
fn keeps_input_params(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. }
            | Op::Transpose { .. }
            | Op::Identity
            | Op::Slice { .. }
            | Op::Split { .. }
            | Op::Pad { .. }
    ) || matches!(op, Op::Pool(p) if p.kind == PoolKind::Max)
}

/// Output parameters fixed by the int8 specification (the function's range is known).
fn fixed_params(op: &Op) -> Option<(f32, i64)> {
    match op {
        Op::Softmax { log: false, .. } | Op::Unary(UnaryKind::Sigmoid) => Some((1.0 / 256.0, -128)),
        Op::Unary(UnaryKind::Tanh) => Some((1.0 / 128.0, 0)),
        _ => None,
    }
}

/// Symmetric int8 quantization of `w` along `axis` (one scale per index of that axis).
pub fn quantize_weights(w: &Tensor, axis: usize) -> Quant {
    let values = w.to_f32();
    let channels = w.shape.get(axis).copied().unwrap_or(1).max(1);
    let inner: usize = w.shape[axis + 1..].iter().product();
    let channel_of = |i: usize| (i / inner.max(1)) % channels;
    let mut max = vec![0f32; channels];
    for (i, &v) in values.iter().enumerate() {
        max[channel_of(i)] = max[channel_of(i)].max(v.abs());
    }
    let scale: Vec<f32> = max
        .iter()
        .map(|&m| if m > 0.0 { m / 127.0 } else { 1.0 })
        .collect();
    let ints = values
        .iter()
        .enumerate()
        .map(|(i, &v)| ((v / scale[channel_of(i)]).round_ties_even() as i64).clamp(-127, 127))
        .collect();
    Quant {
        scale,
        zero_point: vec![0; channels],
        axis,
        ints: Some(Tensor::int(ElemType::I8, w.shape.clone(), ints)),
    }
}

/// Per-tensor asymmetric quantization of a constant operand.
fn quantize_constant(t: &Tensor) -> Quant {
    let values = t.to_f32();
    let (lo, hi) = values
        .iter()
        .fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let (scale, zp) = params(lo, hi);
    let ints = values
        .iter()
        .map(|&v| ((v / scale).round_ties_even() as i64 + zp).clamp(-128, 127))
        .collect();
    Quant {
        ints: Some(Tensor::int(ElemType::I8, t.shape.clone(), ints)),
        ..Quant::per_tensor(scale, zp)
    }
}

/// Inserts `Q(v) -> DQ` after `v` (produced by node `after`, or a graph input when `None`)
/// and makes every other reader of `v` read the dequantized value.
fn insert_pair(g: &mut Graph, v: ValueId, after: Option<usize>, scale: f32, zp: i64) {
    let name = g.values[v].name.clone();
    let s = g.add_constant(format!("{name}.scale"), Tensor::f32(vec![], vec![scale]));
    let z = g.add_constant(
        format!("{name}.zero_point"),
        Tensor::int(ElemType::I8, vec![], vec![zp]),
    );
    let shape = g.values[v].shape.clone();
    let q = g.add_value(Value {
        name: format!("{name}.q"),
        dtype: ElemType::I8,
        shape: shape.clone(),
        konst: None,
        quant: Some(Quant::per_tensor(scale, zp)),
    });
    // The dequantized value takes over the name (layers are matched by name), except for a
    // graph input, whose name users address their data by.
    let is_input = g.inputs.contains(&v);
    let dq = g.add_value(Value {
        name: if is_input {
            format!("{name}.dequantized")
        } else {
            name.clone()
        },
        dtype: ElemType::F32,
        shape,
        konst: None,
        quant: None,
    });
    if !is_input {
        g.values[v].name = format!("{name}.float");
    }
    for node in &mut g.nodes {
        for input in node.inputs.iter_mut().flatten() {
            if *input == v {
                *input = dq;
            }
        }
    }
    for output in &mut g.outputs {
        if *output == v {
            *output = dq;
        }
    }
    let quantize = Node {
        name: format!("{name}.quantize"),
        op_type: "QuantizeLinear".into(),
        op: Op::Quantize { axis: 1 },
        inputs: vec![Some(v), Some(s), Some(z)],
        outputs: vec![q],
    };
    let dequantize = Node {
        name: format!("{name}.dequantize"),
        op_type: "DequantizeLinear".into(),
        op: Op::Dequantize { axis: 1 },
        inputs: vec![Some(q), Some(s), Some(z)],
        outputs: vec![dq],
    };
    let at = after.map_or(0, |i| i + 1);
    g.nodes.splice(at..at, [quantize, dequantize]);
}

/// Quantizes the float graph `g` with calibration `calib`. Returns the nodes left in float.
pub fn quantize_graph(
    g: &mut Graph,
    calib: &Calibration,
    opts: &QuantizeOptions,
) -> Result<Vec<Unsupported>, CompileError> {
    if g.values
        .iter()
        .any(|v| v.dtype == ElemType::I8 && v.konst.is_none())
    {
        return Err(CompileError::Options(
            "the model is already quantized (QDQ); compile it without --quantize".into(),
        ));
    }
    let kept: HashSet<&str> = opts.keep_float.iter().map(String::as_str).collect();
    if let Some(missing) = opts
        .keep_float
        .iter()
        .find(|name| !g.nodes.iter().any(|n| &n.name == *name))
    {
        return Err(CompileError::Options(format!(
            "no layer named '{missing}' to keep in float32"
        )));
    }
    // Weights and constant operands.
    for n in 0..g.nodes.len() {
        let node = &g.nodes[n];
        if kept.contains(node.name.as_str()) {
            continue;
        }
        let weights = match node.op {
            Op::Conv(_) => node.input(1).map(|w| (w, 0)),
            Op::Linear { .. } => node.input(1).map(|w| (w, 1)),
            _ => None,
        };
        if let Some((w, axis)) = weights
            && let Some(t) = g.konst(w).cloned()
            && g.values[w].quant.is_none()
        {
            g.values[w].quant = Some(quantize_weights(&t, axis));
        }
        if matches!(node.op, Op::Binary { .. }) {
            for c in node.inputs.clone().into_iter().flatten() {
                if let Some(t) = g.konst(c).cloned()
                    && g.values[c].quant.is_none()
                {
                    g.values[c].quant = Some(quantize_constant(&t));
                }
            }
        }
    }
    let mut targets = activation_targets(g, calib, opts.method, &kept);
    // Insert from the last node backwards so that indices stay valid.
    targets.sort_by_key(|&(_, after, _)| std::cmp::Reverse(after.map_or(0, |i| i + 1)));
    for (v, after, (scale, zp)) in targets {
        insert_pair(g, v, after, scale, zp);
    }
    qdq::annotate(g);
    qdq::sink_dequantize(g);
    qdq::absorb(g);
    qdq::propagate_params(g);
    if opts.int8_io {
        int8_boundary(g);
    }
    crate::passes::cleanup(g);
    let float = float_nodes(g);
    Ok(float)
}

/// The activations the int8 graph quantizes, with their `(scale, zero_point)`: graph inputs,
/// then every computed value in order, each with the index of the node producing it (`None`
/// for a graph input). Values that keep their input's parameters (data movement, max
/// pooling) are not listed: they need no quantize/dequantize pair of their own.
pub fn activation_params(
    g: &Graph,
    calib: &Calibration,
    method: Method,
) -> Vec<(ValueId, Option<usize>, (f32, i64))> {
    activation_targets(g, calib, method, &HashSet::new())
}

fn activation_targets(
    g: &Graph,
    calib: &Calibration,
    method: Method,
    kept: &HashSet<&str>,
) -> Vec<(ValueId, Option<usize>, (f32, i64))> {
    let calibrated = |v: ValueId| {
        calib.stats.get(&v).map(|s| {
            let (lo, hi) = s.range(method);
            params(lo, hi)
        })
    };
    let mut targets: Vec<(ValueId, Option<usize>, (f32, i64))> = Vec::new();
    // Parameters of each float value as quantized (data movement passes them through).
    let mut assigned: HashMap<ValueId, (f32, i64)> = HashMap::new();
    for &v in &g.inputs {
        if let Some(p) = calibrated(v) {
            targets.push((v, None, p));
            assigned.insert(v, p);
        }
    }
    for (i, node) in g.nodes.iter().enumerate() {
        let input_params = node.input(0).and_then(|x| assigned.get(&x).copied());
        if keeps_input_params(&node.op) {
            if let Some(p) = input_params {
                node.outputs.iter().for_each(|&v| {
                    assigned.insert(v, p);
                });
            }
            continue;
        }
        // Averages stay within their input's range: keep its parameters (as TFLite does),
        // so that no requantization follows the pooling.
        let averages = matches!(node.op, Op::Pool(ref p) if p.kind != PoolKind::Max)
            || matches!(node.op, Op::GlobalPool(PoolKind::Avg { .. }));
        if kept.contains(node.name.as_str()) {
            continue;
        }
        for &v in &node.outputs {
            let p = match (
                fixed_params(&node.op),
                averages.then_some(input_params).flatten(),
            ) {
                (Some(p), _) | (None, Some(p)) => Some(p),
                (None, None) => calibrated(v),
            };
            if let Some(p) = p {
                targets.push((v, Some(i), p));
                assigned.insert(v, p);
            }
        }
    }
    targets
}

/// Makes the model's inputs and outputs the int8 tensors next to them.
fn int8_boundary(g: &mut Graph) {
    for k in 0..g.inputs.len() {
        let v = g.inputs[k];
        let readers: Vec<usize> = (0..g.nodes.len())
            .filter(|&n| g.nodes[n].inputs.contains(&Some(v)))
            .collect();
        if let [n] = readers[..]
            && matches!(g.nodes[n].op, Op::Quantize { .. })
        {
            let q = g.nodes.remove(n);
            g.inputs[k] = q.outputs[0];
            g.values[q.outputs[0]].name = g.values[v].name.trim_end_matches(".float").to_string();
            g.record_fate(&q, NodeFate::Removed("the input is int8"));
        }
    }
    let producers = g.producers();
    for k in 0..g.outputs.len() {
        let v = g.outputs[k];
        if let Some(p) = producers[v]
            && matches!(g.nodes[p].op, Op::Dequantize { .. })
            && let Some(q) = g.nodes[p].input(0)
        {
            g.outputs[k] = q;
            g.values[q].name = g.values[v].name.clone();
        }
    }
}

/// Compute nodes still running on float data after quantization, with the reason.
pub fn float_nodes(g: &Graph) -> Vec<Unsupported> {
    g.nodes
        .iter()
        .filter(|n| {
            !matches!(n.op, Op::Quantize { .. } | Op::Dequantize { .. })
                && !keeps_input_params(&n.op)
        })
        .filter(|n| {
            n.inputs
                .iter()
                .flatten()
                .any(|&v| g.values[v].konst.is_none() && g.values[v].dtype == ElemType::F32)
        })
        .map(|n| Unsupported {
            node: n.name.clone(),
            op_type: n.op_type.clone(),
            reason: "runs in float32 (no int8 kernel for this operator or configuration)".into(),
        })
        .collect()
}
