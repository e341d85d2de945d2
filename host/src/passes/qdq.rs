//! Quantized graphs: QuantizeLinear/DequantizeLinear pairs around float operators become int8
//! operators. DequantizeLinear moves below data movement (which then runs on int8); a compute
//! operator whose activations come out of DequantizeLinear and whose only reader is a
//! QuantizeLinear reads and writes the int8 tensors directly; what remains of the pairs runs
//! as float <-> int8 conversions (the model's boundary, or mixed precision).

use super::redirect;
use crate::ir::{Graph, Node, NodeFate, Op, Quant, Value, ValueId};
use crate::tensor::ElemType;
use whittle_runtime::format::{BinaryKind, PoolKind};

/// Per-tensor parameters of a QuantizeLinear or DequantizeLinear node, from its constants; a
/// uint8 zero point is moved into the int8 domain (`q_i8 = q_u8 - 128`).
fn node_params(g: &Graph, node: &Node) -> Option<Quant> {
    let scale = g.konst(node.input(1)?)?.to_f32();
    let zero_point = match node.input(2) {
        Some(z) => {
            let t = g.konst(z)?;
            let shift = if t.dtype == ElemType::U8 { 128 } else { 0 };
            t.to_i64().iter().map(|v| v - shift).collect()
        }
        None => vec![0],
    };
    (scale.len() == 1 && zero_point.len() == 1).then(|| Quant::per_tensor(scale[0], zero_point[0]))
}

/// `v` is the output of a DequantizeLinear of a run-time int8 tensor: that tensor and its
/// parameters.
fn dequantized(g: &Graph, producers: &[Option<usize>], v: ValueId) -> Option<(ValueId, Quant)> {
    let dq = &g.nodes[producers[v]?];
    if !matches!(dq.op, Op::Dequantize { .. }) {
        return None;
    }
    let x = dq.input(0)?;
    (g.values[x].konst.is_none() && g.values[x].dtype == ElemType::I8).then_some(())?;
    Some((x, node_params(g, dq)?))
}

/// `v`'s only reader is a QuantizeLinear to int8: its index, output and parameters.
fn quantized(g: &Graph, uses: &[usize], v: ValueId) -> Option<(usize, ValueId, Quant)> {
    if uses[v] != 1 || g.outputs.contains(&v) {
        return None;
    }
    let (index, q) = g
        .nodes
        .iter()
        .enumerate()
        .find(|(_, n)| n.inputs.contains(&Some(v)))?;
    if !matches!(q.op, Op::Quantize { .. })
        || q.input(0) != Some(v)
        || g.values[q.outputs[0]].dtype != ElemType::I8
    {
        return None;
    }
    Some((index, q.outputs[0], node_params(g, q)?))
}

fn moves_data(op: &Op) -> bool {
    matches!(
        op,
        Op::Reshape { .. }
            | Op::Transpose { .. }
            | Op::Identity
            | Op::Slice { .. }
            | Op::Split { .. }
    ) || matches!(op, Op::Pool(p) if p.kind == PoolKind::Max)
}

/// Whether `op` commutes with dequantization by `q`: data movement, max pooling, and constant
/// padding whose value is exactly a quantized value.
fn commutes_with(op: &Op, q: &Quant) -> bool {
    match op {
        Op::Pad { value, .. } => {
            let (s, z) = (q.scale[0], q.zero_point[0]);
            let level = (value / s).round() + z as f32;
            (-128.0..=127.0).contains(&level)
                && ((level - z as f32) * s - value).abs() <= f32::EPSILON * value.abs().max(1.0)
        }
        op => moves_data(op),
    }
}

/// Records the parameters of every QuantizeLinear output and DequantizeLinear input; uint8
/// tensors between them run as int8 (the same real values, shifted by 128).
pub fn annotate(g: &mut Graph) {
    for v in &mut g.values {
        if v.dtype == ElemType::U8 && v.konst.is_none() {
            v.dtype = ElemType::I8;
        }
    }
    for n in 0..g.nodes.len() {
        let node = &g.nodes[n];
        let target = match node.op {
            Op::Quantize { .. } => node.outputs[0],
            Op::Dequantize { .. } => match node.input(0) {
                Some(x) if g.values[x].konst.is_none() => x,
                _ => continue,
            },
            _ => continue,
        };
        if let Some(params) = node_params(g, node) {
            g.values[target].quant.get_or_insert(params);
        }
    }
}

/// Moves DequantizeLinear below data movement and max pooling: `D(DQ(x)) = DQ(D(x))`.
pub fn sink_dequantize(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let producers = g.producers();
        let node = &g.nodes[i];
        let source = node.input(0).and_then(|v| dequantized(g, &producers, v));
        let concat_inputs = match (&node.op, &source) {
            (Op::Concat { .. }, Some((_, q))) => {
                let all: Option<Vec<ValueId>> = node
                    .inputs
                    .iter()
                    .map(|v| {
                        dequantized(g, &producers, (*v)?)
                            .filter(|(_, p)| p.same_as(q))
                            .map(|(x, _)| x)
                    })
                    .collect();
                all
            }
            _ => None,
        };
        let Some((x, params)) =
            source.filter(|(_, q)| commutes_with(&node.op, q) || concat_inputs.is_some())
        else {
            i += 1;
            continue;
        };
        let dq_template =
            g.nodes[producers[node.input(0).expect("has input")].expect("dequantized")].clone();
        let mut node = g.nodes[i].clone();
        match concat_inputs {
            Some(xs) => node.inputs = xs.into_iter().map(Some).collect(),
            None => node.inputs[0] = Some(x),
        }
        // Each float output becomes the dequantization of a new int8 output.
        let mut after = Vec::new();
        for (k, &out) in node.outputs.clone().iter().enumerate() {
            let value = g.values[out].clone();
            let int8 = g.add_value(Value {
                name: format!("{}.int8", value.name),
                dtype: ElemType::I8,
                quant: Some(params.clone()),
                konst: None,
                ..value
            });
            node.outputs[k] = int8;
            let mut dq = dq_template.clone();
            dq.name = format!("{}.dequantize{k}", node.name);
            dq.inputs[0] = Some(int8);
            dq.outputs = vec![out];
            after.push(dq);
        }
        g.nodes[i] = node;
        let n = after.len();
        g.nodes.splice(i + 1..i + 1, after);
        i += 1 + n;
    }
}

/// Whether `op` has an int8 kernel.
fn runs_in_int8(op: &Op) -> bool {
    match op {
        Op::Conv(_)
        | Op::Linear { .. }
        | Op::Pool(_)
        | Op::GlobalPool(_)
        | Op::Unary(_)
        | Op::Concat { .. } => true,
        Op::Binary { kind, .. } => {
            matches!(kind, BinaryKind::Add | BinaryKind::Sub | BinaryKind::Mul)
        }
        Op::Softmax { log, coerce_2d, .. } => !log && !coerce_2d,
        _ => false,
    }
}

/// Rewrites compute operators between DequantizeLinear inputs and a QuantizeLinear output to
/// int8, and collapses QuantizeLinear(DequantizeLinear(x)).
pub fn absorb(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let producers = g.producers();
        let uses = g.use_counts();
        let node = &g.nodes[i];
        let out = node.outputs[0];
        let rewrite = if matches!(node.op, Op::Quantize { .. }) {
            None
        } else if runs_in_int8(&node.op) && node.outputs.len() == 1 {
            // Every run-time input dequantized, the result quantized right after.
            let activations: Option<Vec<(usize, ValueId, Quant)>> = node
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.filter(|&v| g.values[v].konst.is_none()).map(|v| (k, v)))
                .map(|(k, v)| dequantized(g, &producers, v).map(|(x, q)| (k, x, q)))
                .collect();
            activations
                .filter(|a| !a.is_empty())
                .zip(quantized(g, &uses, out))
        } else {
            None
        };
        let Some((activations, (q_index, q_out, q_params))) = rewrite else {
            i += 1;
            continue;
        };
        for (k, x, params) in activations {
            g.values[x].quant.get_or_insert(params);
            g.nodes[i].inputs[k] = Some(x);
        }
        g.nodes[i].outputs[0] = q_out;
        g.values[q_out].quant = Some(q_params);
        let q = g.nodes.remove(q_index);
        let into = g.nodes[if q_index < i { i - 1 } else { i }].name.clone();
        g.record_fate(&q, NodeFate::FusedInto(into));
        if q_index < i {
            i -= 1;
        }
        i += 1;
    }
    collapse_pairs(g);
}

/// `Q(DQ(x))`: the same parameters give `x` back; others become an int8 requantization.
fn collapse_pairs(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let producers = g.producers();
        let node = &g.nodes[i];
        let source = match node.op {
            Op::Quantize { .. } => node.input(0).and_then(|v| dequantized(g, &producers, v)),
            _ => None,
        };
        let Some((x, params)) = source else {
            i += 1;
            continue;
        };
        let Some(target) = node_params(g, node) else {
            i += 1;
            continue;
        };
        let out = node.outputs[0];
        g.values[x].quant.get_or_insert(params.clone());
        if params.same_as(&target) && !g.outputs.contains(&out) {
            let node = g.nodes.remove(i);
            redirect(g, out, x);
            g.record_fate(
                &node,
                NodeFate::Removed("cancels the DequantizeLinear before it"),
            );
        } else {
            g.values[out].quant = Some(target);
            g.nodes[i].inputs[0] = Some(x);
            i += 1;
        }
    }
}

/// Gives every int8 tensor moved by data movement the parameters of the tensor it comes from
/// or goes to (graph inputs learn theirs from the operators that read them).
pub fn propagate_params(g: &mut Graph) {
    loop {
        let mut changed = false;
        for n in 0..g.nodes.len() {
            let node = &g.nodes[n];
            if !(moves_data(&node.op) || matches!(node.op, Op::Concat { .. })) {
                continue;
            }
            let ids: Vec<ValueId> = node
                .inputs
                .iter()
                .flatten()
                .chain(&node.outputs)
                .copied()
                .collect();
            if ids
                .iter()
                .any(|&v| g.values[v].dtype != ElemType::I8 || g.values[v].konst.is_some())
            {
                continue;
            }
            let Some(params) = ids.iter().find_map(|&v| g.values[v].quant.clone()) else {
                continue;
            };
            for v in ids {
                if g.values[v].quant.is_none() {
                    g.values[v].quant = Some(params.clone());
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}
