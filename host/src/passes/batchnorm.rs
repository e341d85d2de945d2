//! BatchNormalization: folded into the preceding convolution or linear layer when it is the
//! only reader; otherwise rewritten as a per-channel multiply-add.

use super::redirect;
use crate::ir::{Graph, Node, NodeFate, Op, Value};
use crate::tensor::Tensor;
use whittle_runtime::format::{Activation, BinaryKind};

/// Per-channel `(scale, shift)` such that `bn(x) = x * scale + shift`.
fn affine(g: &Graph, node: &Node, epsilon: f32) -> Option<(Vec<f32>, Vec<f32>)> {
    let get = |i| node.input(i).and_then(|id| g.konst(id)).map(Tensor::to_f32);
    let (gamma, beta, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    let scale = fold_scale(&gamma, &var, epsilon);
    let shift = beta
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), s)| b - m * s)
        .collect();
    Some((scale, shift))
}

/// The per-channel factor `gamma / sqrt(var + epsilon)` a folded layer's weights are
/// multiplied by (what quantization-aware training mirrors, to the bit).
pub fn fold_scale(gamma: &[f32], var: &[f32], epsilon: f32) -> Vec<f32> {
    gamma
        .iter()
        .zip(var)
        .map(|(g, v)| g / (v + epsilon).sqrt())
        .collect()
}

/// Folds or rewrites every BatchNormalization node.
pub fn fold(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let Op::BatchNorm { epsilon } = g.nodes[i].op else {
            i += 1;
            continue;
        };
        let bn = g.nodes[i].clone();
        let Some((scale, shift)) = affine(g, &bn, epsilon) else {
            i += 1;
            continue;
        };
        let x = bn.inputs[0].expect("BatchNormalization input checked by inference");
        if fold_into_producer(g, x, &scale, &shift) {
            redirect(g, bn.outputs[0], x);
            g.values[x].name = g.values[bn.outputs[0]].name.clone();
            let producer = g.producers()[x]
                .map(|p| g.nodes[p].name.clone())
                .unwrap_or_default();
            g.record_fate(&bn, NodeFate::FusedInto(producer));
            g.nodes.remove(i);
            continue;
        }
        // Standalone: x * scale + shift with [C, 1, ...] constants.
        let rank = g.shape(x).len();
        let mut param_shape = vec![1; rank - 1];
        param_shape[0] = scale.len();
        let constant = |g: &mut Graph, name: String, data: Vec<f32>| {
            g.add_constant(name, Tensor::f32(param_shape.clone(), data))
        };
        let scale_id = constant(g, format!("{}.scale", bn.name), scale);
        let shift_id = constant(g, format!("{}.shift", bn.name), shift);
        let scaled = g.add_value(Value {
            name: format!("{}.scaled", bn.name),
            ..g.values[bn.outputs[0]].clone()
        });
        let mul = Node {
            name: format!("{}.mul", bn.name),
            op_type: bn.op_type.clone(),
            op: Op::Binary {
                kind: BinaryKind::Mul,
                act: Activation::None,
            },
            inputs: vec![Some(x), Some(scale_id)],
            outputs: vec![scaled],
        };
        let add = Node {
            name: bn.name.clone(),
            op_type: bn.op_type.clone(),
            op: Op::Binary {
                kind: BinaryKind::Add,
                act: Activation::None,
            },
            inputs: vec![Some(scaled), Some(shift_id)],
            outputs: bn.outputs.clone(),
        };
        g.nodes.splice(i..=i, [mul, add]);
        i += 2;
    }
}

/// Scales the weights and bias of the Conv/Linear producing `x`, if `x` has no other reader.
fn fold_into_producer(g: &mut Graph, x: usize, scale: &[f32], shift: &[f32]) -> bool {
    if g.use_counts()[x] != 1 || g.outputs.contains(&x) {
        return false;
    }
    let Some(p) = g.producers()[x] else {
        return false;
    };
    let node = &g.nodes[p];
    let channel_axis_last = match &node.op {
        Op::Conv(a) if a.act == Activation::None => false,
        Op::Linear {
            act: Activation::None,
        } => true,
        _ => return false,
    };
    let Some(w_id) = node.input(1) else {
        return false;
    };
    let Some(w) = g.konst(w_id) else { return false };
    if channel_axis_last && g.shape(x).len() != 2 {
        return false; // BN's channel axis is 1; for a linear layer that is the last axis only in 2-D
    }
    let bias = match node.input(2) {
        Some(b) => match g.konst(b) {
            Some(t) => t.to_f32(),
            None => return false,
        },
        None => vec![0.0; scale.len()],
    };
    let mut weights = w.to_f32();
    let channels = scale.len();
    if channel_axis_last {
        for (i, v) in weights.iter_mut().enumerate() {
            *v *= scale[i % channels];
        }
    } else {
        let per_channel = weights.len() / channels;
        for (i, v) in weights.iter_mut().enumerate() {
            *v *= scale[i / per_channel];
        }
    }
    let new_bias: Vec<f32> = bias
        .iter()
        .zip(scale)
        .zip(shift)
        .map(|((b, s), t)| b * s + t)
        .collect();
    let w_shape = w.shape.clone();
    let w_name = format!("{}.folded_weights", node.name);
    let b_name = format!("{}.folded_bias", node.name);
    let w_new = g.add_constant(w_name, Tensor::f32(w_shape, weights));
    let b_new = g.add_constant(b_name, Tensor::f32(vec![channels], new_bias));
    let node = &mut g.nodes[p];
    node.inputs.resize(3, None);
    node.inputs[1] = Some(w_new);
    node.inputs[2] = Some(b_new);
    true
}
