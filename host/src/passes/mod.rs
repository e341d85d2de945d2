//! Graph rewrites before lowering: linear-layer formation, batch-norm folding, activation
//! fusion, no-op removal, dead-code elimination.

mod batchnorm;
mod fuse;
mod linear;
pub mod qdq;
mod simplify;

use crate::ir::Graph;

pub(crate) use batchnorm::fold_scale;

/// Runs every pass in order.
pub fn optimize(g: &mut Graph) {
    simplify::split_variadic(g);
    linear::form(g);
    batchnorm::fold(g);
    linear::merge_bias(g);
    fuse::activations(g);
    qdq::annotate(g);
    qdq::sink_dequantize(g);
    qdq::absorb(g);
    qdq::propagate_params(g);
    simplify::remove_noops(g);
    simplify::remove_dead(g);
}

/// Removes what the rewrites left without readers.
pub fn cleanup(g: &mut Graph) {
    simplify::remove_noops(g);
    simplify::remove_dead(g);
}

/// Replaces every read of `from` (by nodes and graph outputs) with `to`.
fn redirect(g: &mut Graph, from: usize, to: usize) {
    for node in &mut g.nodes {
        for input in node.inputs.iter_mut().flatten() {
            if *input == from {
                *input = to;
            }
        }
    }
    for output in &mut g.outputs {
        if *output == from {
            *output = to;
        }
    }
}
