//! How each operator carries channels: the rules of the dependency analysis, one method per
//! kind of operator. A rule that does not apply returns `false` and the operator is treated as
//! opaque (its channels are kept).

use super::groups::{Builder, Role};
use crate::ir::{Graph, Op};

impl Builder {
    /// Applies the rule of node `i`.
    pub(super) fn node(&mut self, g: &Graph, i: usize) {
        let handled = match &g.nodes[i].op {
            Op::Conv(a) => self.conv(g, i, a.group),
            Op::Gemm(a) if !a.trans_a => self.linear(g, i, a.trans_b),
            Op::MatMul => self.linear(g, i, false),
            Op::BatchNorm { .. } => self.batchnorm(g, i),
            Op::Unary(_) | Op::Identity | Op::Pool(_) | Op::GlobalPool(_) => self.pass(g, i),
            Op::Softmax { axis, .. } => *axis != 1 && self.pass(g, i),
            Op::Pad { .. } | Op::Slice { .. } | Op::Split { .. } => self.pass(g, i),
            Op::Binary { .. } => self.binary(g, i),
            Op::Concat { axis } => self.concat(g, i, *axis),
            Op::Reshape { .. } | Op::Squeeze { .. } | Op::Unsqueeze { .. } => self.reshape(g, i),
            _ => false,
        };
        if !handled {
            self.opaque(g, i);
        }
    }

    fn conv(&mut self, g: &Graph, i: usize, group: usize) -> bool {
        let node = &g.nodes[i];
        let (Some(x), Some(w)) = (node.input(0), node.input(1)) else {
            return false;
        };
        let Some(weights) = g.konst(w) else {
            return false;
        };
        let (c_in, c_out) = (g.shape(x)[1], weights.shape[0]);
        let bias = node.input(2).filter(|&b| g.konst(b).is_some());
        if node.input(2).is_some() && bias.is_none() {
            return false;
        }
        let Some(l_in) = self.layout(g, x) else {
            return false;
        };
        let out = node.outputs[0];
        if group == 1 {
            self.slot(i, Some(w), 1, &l_in, Role::Consumer);
            let l_out = self.fresh(c_out, &node.name, true);
            self.slot(i, Some(w), 0, &l_out, Role::Producer);
            self.slot(i, bias, 0, &l_out, Role::Param);
            self.layouts[out] = Some(l_out);
            true
        } else if group == c_in && c_out == c_in {
            // Depthwise: filter c reads and writes channel c only.
            self.slot(i, Some(w), 0, &l_in, Role::Param);
            self.slot(i, bias, 0, &l_in, Role::Param);
            self.depthwise.push((i, l_in.clone()));
            self.layouts[out] = Some(l_in);
            true
        } else {
            false
        }
    }

    /// Gemm (`A @ B + C`, `B` constant, `A` not transposed) and MatMul with a constant 2-D `B`.
    fn linear(&mut self, g: &Graph, i: usize, trans_b: bool) -> bool {
        let node = &g.nodes[i];
        let (Some(a), Some(b)) = (node.input(0), node.input(1)) else {
            return false;
        };
        if g.shape(a).len() != 2 || g.shape(b).len() != 2 || g.konst(b).is_none() {
            return false;
        }
        let c = node.input(2);
        if c.is_some_and(|c| g.konst(c).is_none()) {
            return false;
        }
        let Some(l_in) = self.layout(g, a) else {
            return false;
        };
        let (k_axis, n_axis) = if trans_b { (1, 0) } else { (0, 1) };
        let n = g.shape(b)[n_axis];
        self.slot(i, Some(b), k_axis, &l_in, Role::Consumer);
        let l_out = self.fresh(n, &g.nodes[i].name, true);
        self.slot(i, Some(b), n_axis, &l_out, Role::Producer);
        if let Some(c) = c {
            let cs = g.shape(c);
            match cs.last() {
                Some(&last) if last == n && n > 1 => {
                    self.slot(i, Some(c), cs.len() - 1, &l_out, Role::Param)
                }
                _ => {}
            }
        }
        self.layouts[node.outputs[0]] = Some(l_out);
        true
    }

    fn batchnorm(&mut self, g: &Graph, i: usize) -> bool {
        let node = &g.nodes[i];
        let Some(l) = node.input(0).and_then(|x| self.layout(g, x)) else {
            return false;
        };
        if (1..5).any(|k| node.input(k).and_then(|v| g.konst(v)).is_none()) {
            return false;
        }
        self.slot(i, node.input(1), 0, &l, Role::BnScale);
        for k in 2..5 {
            self.slot(i, node.input(k), 0, &l, Role::Param);
        }
        self.layouts[node.outputs[0]] = Some(l);
        true
    }

    /// Operators that keep batch and channel axes as they are: every output gets the input's
    /// channels.
    fn pass(&mut self, g: &Graph, i: usize) -> bool {
        let node = &g.nodes[i];
        let Some(x) = node.input(0) else { return false };
        let s_in = g.shape(x);
        let keeps = node.outputs.iter().all(|&o| {
            let s = g.shape(o);
            s.len() >= 2 && s[..2] == s_in[..2.min(s_in.len())]
        });
        if !keeps {
            return false;
        }
        let Some(l) = self.layout(g, x) else {
            return false;
        };
        for &o in &node.outputs {
            self.layouts[o] = Some(l.clone());
        }
        true
    }

    fn binary(&mut self, g: &Graph, i: usize) -> bool {
        let node = &g.nodes[i];
        let out = node.outputs[0];
        let rank = g.shape(out).len();
        if rank < 2 {
            return false;
        }
        let channels = g.shape(out)[1];
        let mut dynamic = Vec::new();
        let mut params = Vec::new();
        for &v in node.inputs.iter().flatten() {
            let s = g.shape(v);
            // Broadcasting aligns trailing axes: the channel axis of this operand, if it has one.
            let Some(axis) = (s.len() + 1).checked_sub(rank) else {
                continue;
            };
            if s[axis] == 1 && channels != 1 {
                continue;
            }
            if g.konst(v).is_some() {
                params.push((v, axis));
            } else if axis == 1 {
                dynamic.push(v);
            } else {
                return false;
            }
        }
        let Some((&first, rest)) = dynamic.split_first() else {
            let fresh = self.fresh(channels, &node.name, false);
            self.layouts[out] = Some(fresh);
            return true;
        };
        let Some(l) = self.layout(g, first) else {
            return false;
        };
        for &v in rest {
            if let Some(other) = self.layout(g, v) {
                self.unify_layouts(&l, &other);
            }
        }
        for (v, axis) in params {
            self.slot(i, Some(v), axis, &l, Role::Param);
        }
        self.layouts[out] = Some(l);
        true
    }

    fn concat(&mut self, g: &Graph, i: usize, axis: i64) -> bool {
        let node = &g.nodes[i];
        let out = node.outputs[0];
        if g.shape(out).len() < 2 {
            return false;
        }
        let mut layouts = Vec::new();
        for &v in node.inputs.iter().flatten() {
            let l = match self.layout(g, v) {
                Some(l) => l,
                // A constant's channels are not rewritten: they stay.
                None => self.fresh(g.shape(v).get(1).copied().unwrap_or(0), &node.name, false),
            };
            layouts.push(l);
        }
        let l_out = if axis == 1 {
            layouts.concat()
        } else {
            let first = layouts[0].clone();
            for other in &layouts[1..] {
                self.unify_layouts(&first, other);
            }
            first
        };
        self.layouts[out] = Some(l_out);
        true
    }

    /// Reshape, Flatten, Squeeze, Unsqueeze: channels survive when batch and channel axes stay
    /// (`[N, C, H, W] -> [N, C, H*W]`) or the channel axis is flattened with the spatial ones
    /// (`[N, C, H, W] -> [N, C*H*W]`, each channel becoming `H*W` columns).
    fn reshape(&mut self, g: &Graph, i: usize) -> bool {
        let node = &g.nodes[i];
        let Some(x) = node.input(0) else { return false };
        let out = node.outputs[0];
        let (s_in, s_out) = (g.shape(x), g.shape(out));
        if s_in.len() < 2 || s_out.len() < 2 || s_in[0] != s_out[0] {
            return false;
        }
        let Some(l) = self.layout(g, x) else {
            return false;
        };
        let l_out = if s_in[1] == s_out[1] {
            l
        } else if s_out.len() == 2 {
            let spatial: usize = s_in[2..].iter().product();
            l.iter()
                .flat_map(|&e| std::iter::repeat_n(e, spatial))
                .collect()
        } else {
            self.block(&l);
            return false;
        };
        if g.nodes[i].op_type == "Reshape" {
            self.reshapes.push((i, l_out.clone()));
        }
        self.layouts[out] = Some(l_out);
        true
    }
}
