//! Multiply-accumulates per inference of the graph with some channels removed, computed from
//! the channel layouts without rebuilding the model (the search for a MAC target asks often).

use super::groups::Dependencies;
use crate::ir::{Graph, Op, ValueId};
use std::collections::BTreeSet;

/// Channels of `v` (axis 1) that remain.
fn kept(g: &Graph, deps: &Dependencies, removed: &BTreeSet<usize>, v: ValueId) -> u64 {
    match &deps.layouts[v] {
        Some(layout) => deps.keep(layout, removed).len() as u64,
        None => g.shape(v).get(1).copied().unwrap_or(1) as u64,
    }
}

fn product(dims: &[usize]) -> u64 {
    dims.iter().map(|&d| d as u64).product()
}

/// MACs of the graph without the classes in `removed` (Conv, Gemm and MatMul; element-wise
/// operators count none, as in `whittle inspect`).
pub fn macs(g: &Graph, deps: &Dependencies, removed: &BTreeSet<usize>) -> u64 {
    let mut total = 0u64;
    for node in &g.nodes {
        let (Some(x), Some(w)) = (node.input(0), node.input(1)) else {
            continue;
        };
        let out = node.outputs[0];
        let kept = |v| kept(g, deps, removed, v);
        let os = g.shape(out);
        total += match &node.op {
            Op::Conv(a) => {
                let ws = g.shape(w);
                let c_in = g.shape(x)[1];
                let per_group = if a.group == 1 {
                    kept(x)
                } else if a.group == c_in && ws[0] == c_in {
                    1
                } else {
                    ws[1] as u64
                };
                os[0] as u64 * product(&os[2..]) * kept(out) * per_group * product(&ws[2..])
            }
            Op::Gemm(a) => {
                let xs = g.shape(x);
                let (m, k) = if a.trans_a {
                    (xs[1] as u64, xs[0] as u64)
                } else {
                    (xs[0] as u64, kept(x))
                };
                m * k * kept(out)
            }
            Op::MatMul if g.shape(x).len() == 2 && g.shape(w).len() == 2 => {
                g.shape(x)[0] as u64 * kept(x) * kept(out)
            }
            Op::MatMul => product(os) * g.shape(x).last().copied().unwrap_or(0) as u64,
            _ => 0,
        };
    }
    total
}
