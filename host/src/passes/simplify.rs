//! Removal of nodes that do nothing at run time, and of nodes nobody reads.

use super::redirect;
use crate::import::shapes::broadcast;
use crate::ir::{Graph, Node, NodeFate, Op, Value};

/// Removes Identity nodes and Reshapes to the same shape (unless they name a graph output).
pub fn remove_noops(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let node = &g.nodes[i];
        let (Some(x), Some(&y)) = (node.input(0), node.outputs.first()) else {
            i += 1;
            continue;
        };
        let noop = match node.op {
            Op::Identity => true,
            Op::Reshape { .. } => g.shape(x) == g.shape(y),
            _ => false,
        };
        if noop && !g.outputs.contains(&y) {
            let node = g.nodes.remove(i);
            redirect(g, y, x);
            g.record_fate(&node, NodeFate::Removed("no-op"));
        } else {
            i += 1;
        }
    }
}

/// Removes nodes whose outputs are never read.
pub fn remove_dead(g: &mut Graph) {
    loop {
        let uses = g.use_counts();
        let dead = g
            .nodes
            .iter()
            .rposition(|n| n.outputs.iter().all(|&o| uses[o] == 0));
        match dead {
            Some(i) => {
                let node = g.nodes.remove(i);
                g.record_fate(&node, NodeFate::Removed("result unused"));
            }
            None => break,
        }
    }
}

/// Splits variadic Max/Min nodes into chains of two-input nodes.
pub fn split_variadic(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let node = g.nodes[i].clone();
        if !matches!(node.op, Op::Binary { .. }) || node.inputs.len() <= 2 {
            i += 1;
            continue;
        }
        let inputs: Vec<usize> = node.inputs.iter().flatten().copied().collect();
        let mut chain = Vec::new();
        let mut acc = inputs[0];
        for (k, &next) in inputs.iter().enumerate().skip(1) {
            let out = if k + 1 == inputs.len() {
                node.outputs[0]
            } else {
                let shape = broadcast(g.shape(acc), g.shape(next)).unwrap_or_default();
                let name = format!("{}.part{k}", node.name);
                g.add_value(Value {
                    name,
                    dtype: g.values[acc].dtype,
                    shape: Some(shape),
                    konst: None,
                    quant: None,
                })
            };
            let name = if out == node.outputs[0] {
                node.name.clone()
            } else {
                format!("{}.{k}", node.name)
            };
            chain.push(Node {
                name,
                op_type: node.op_type.clone(),
                op: node.op.clone(),
                inputs: vec![Some(acc), Some(next)],
                outputs: vec![out],
            });
            acc = out;
        }
        let n = chain.len();
        g.nodes.splice(i..=i, chain);
        i += n;
    }
}
