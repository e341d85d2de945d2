//! Removal of nodes that do nothing at run time, and of nodes nobody reads.

use super::redirect;
use crate::ir::{Graph, NodeFate, Op};

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
