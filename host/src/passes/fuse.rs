//! Activation fusion: a Relu or Clip reading the only output of a Conv, Linear or binary
//! operator becomes that operator's clamp.

use super::redirect;
use crate::ir::{Graph, NodeFate, Op};
use whittle_runtime::format::{Activation, UnaryKind};

fn as_activation(op: &Op) -> Option<Activation> {
    match op {
        Op::Unary(UnaryKind::Relu) => Some(Activation::Relu),
        Op::Unary(UnaryKind::Clip { min, max }) => Some(Activation::Clip {
            min: *min,
            max: *max,
        }),
        _ => None,
    }
}

fn act_slot(op: &mut Op) -> Option<&mut Activation> {
    match op {
        Op::Conv(a) => Some(&mut a.act),
        Op::Linear { act } | Op::Binary { act, .. } => Some(act),
        _ => None,
    }
}

/// Fuses every eligible activation into its producer.
pub fn activations(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let Some(act) = as_activation(&g.nodes[i].op) else {
            i += 1;
            continue;
        };
        let Some(x) = g.nodes[i].input(0) else {
            i += 1;
            continue;
        };
        let producer = g.producers()[x];
        let single_use = g.use_counts()[x] == 1 && !g.outputs.contains(&x);
        let fusable = producer.filter(|_| single_use).filter(|&p| {
            let mut op = g.nodes[p].op.clone();
            act_slot(&mut op).is_some_and(|slot| *slot == Activation::None)
        });
        match fusable {
            Some(p) => {
                if let Some(slot) = act_slot(&mut g.nodes[p].op) {
                    *slot = act;
                }
                let node = g.nodes.remove(i);
                redirect(g, node.outputs[0], x);
                g.values[x].name = g.values[node.outputs[0]].name.clone();
                let into = g.nodes[if p < i { p } else { p - 1 }].name.clone();
                g.record_fate(&node, NodeFate::FusedInto(into));
            }
            None => i += 1,
        }
    }
}
