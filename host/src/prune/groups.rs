//! Dependency groups: which channels of which tensors must be removed together.
//!
//! Every output channel of a Conv, Gemm or MatMul is an *element*. Operators that pass
//! channels through (BatchNorm, activations, pooling, a depthwise Conv, Pad, Slice) carry each
//! element unchanged; Concat on the channel axis lays its inputs' elements side by side;
//! Flatten repeats each element over the spatial positions, one per Gemm column. Elements an
//! operator combines position by position (the branches of a residual Add, an SE gate's Mul)
//! are unified: together they form one removable channel, a *class*. A class that reaches a
//! graph output or an operator the analysis does not follow (Transpose, a grouped Conv, ...)
//! is kept. Sources whose classes are unified form one *group*, the unit a ratio applies to.

use crate::ir::{Graph, ValueId};
use std::collections::BTreeMap;

/// What a constant holds along the sliced axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Weights producing a channel (Conv output filters, Gemm output columns).
    Producer,
    /// Weights reading a channel (Conv input channels, Gemm input rows).
    Consumer,
    /// The scale (gamma) of a BatchNorm.
    BnScale,
    /// Any other per-channel parameter (bias, BN shift and statistics, depthwise filters).
    Param,
}

/// A constant whose `axis` follows the channels of `layout`.
#[derive(Debug, Clone)]
pub struct Slot {
    /// IR node reading the constant.
    pub node: usize,
    /// The constant.
    pub value: ValueId,
    /// Axis of the constant that runs over the channels.
    pub axis: usize,
    /// Element of each index along `axis`.
    pub layout: Vec<usize>,
    /// What the constant is to the channels.
    pub role: Role,
}

/// One group: sources whose channels are removed together.
#[derive(Debug, Clone)]
pub struct Group {
    /// Source nodes (Conv, Gemm, MatMul) joined by `+`.
    pub name: String,
    /// The source nodes.
    pub sources: Vec<String>,
    /// Classes in channel order.
    pub(crate) classes: Vec<usize>,
    /// Classes that may be removed.
    pub(crate) prunable: Vec<usize>,
}

impl Group {
    /// Channels of the group (one per class).
    pub fn channels(&self) -> usize {
        self.classes.len()
    }

    /// Channels that may be removed (the others reach an output or an opaque operator).
    pub fn prunable(&self) -> usize {
        self.prunable.len()
    }
}

/// The result of the analysis, over the imported (unoptimized) graph.
#[derive(Debug, Clone)]
pub struct Dependencies {
    /// Channel layout of each value with a channel axis (axis 1).
    pub layouts: Vec<Option<Vec<usize>>>,
    /// Constants to slice.
    pub slots: Vec<Slot>,
    /// Depthwise Convs (node, channel layout): their `group` follows the channel count.
    pub depthwise: Vec<(usize, Vec<usize>)>,
    /// Reshapes whose output layout changes with the channels (node, output layout).
    pub reshapes: Vec<(usize, Vec<usize>)>,
    /// Class of each element.
    pub class_of: Vec<usize>,
    /// The groups, in source order.
    pub groups: Vec<Group>,
}

struct Space {
    name: String,
    source: bool,
}

/// The analysis in progress: layouts, elements and their unions, slots.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) layouts: Vec<Option<Vec<usize>>>,
    parent: Vec<usize>,
    space_of: Vec<usize>,
    spaces: Vec<Space>,
    space_parent: Vec<usize>,
    blocked: Vec<bool>,
    pub(super) slots: Vec<Slot>,
    pub(super) depthwise: Vec<(usize, Vec<usize>)>,
    pub(super) reshapes: Vec<(usize, Vec<usize>)>,
}

fn find(parent: &mut [usize], mut x: usize) -> usize {
    while parent[x] != x {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    x
}

impl Builder {
    /// `len` new elements of a new space named `name`; only a source's may be removed.
    pub(super) fn fresh(&mut self, len: usize, name: &str, source: bool) -> Vec<usize> {
        let space = self.spaces.len();
        self.spaces.push(Space {
            name: name.to_string(),
            source,
        });
        self.space_parent.push(space);
        let start = self.parent.len();
        for e in start..start + len {
            self.parent.push(e);
            self.space_of.push(space);
            self.blocked.push(!source);
        }
        (start..start + len).collect()
    }

    /// Makes `a` and `b` one class, and their spaces one group.
    fn unify(&mut self, a: usize, b: usize) {
        let (ra, rb) = (find(&mut self.parent, a), find(&mut self.parent, b));
        if ra != rb {
            self.parent[rb] = ra;
        }
        let (sa, sb) = (self.space_of[a], self.space_of[b]);
        let (sa, sb) = (
            find(&mut self.space_parent, sa),
            find(&mut self.space_parent, sb),
        );
        if sa != sb {
            self.space_parent[sb] = sa;
        }
    }

    /// Unifies two layouts position by position; layouts of different lengths cannot be
    /// matched, so both are kept whole.
    pub(super) fn unify_layouts(&mut self, a: &[usize], b: &[usize]) {
        if a.len() != b.len() {
            self.block(a);
            self.block(b);
            return;
        }
        for (&x, &y) in a.iter().zip(b) {
            self.unify(x, y);
        }
    }

    pub(super) fn block(&mut self, layout: &[usize]) {
        for &e in layout {
            self.blocked[e] = true;
        }
    }

    /// The layout of a run-time value with a channel axis; a value nothing has described yet
    /// (a graph input) gets channels that must be kept.
    pub(super) fn layout(&mut self, g: &Graph, v: ValueId) -> Option<Vec<usize>> {
        if g.values[v].konst.is_some() || g.shape(v).len() < 2 {
            return None;
        }
        if self.layouts[v].is_none() {
            let fresh = self.fresh(g.shape(v)[1], &g.values[v].name, false);
            self.layouts[v] = Some(fresh);
        }
        self.layouts[v].clone()
    }

    pub(super) fn slot(
        &mut self,
        node: usize,
        value: Option<ValueId>,
        axis: usize,
        layout: &[usize],
        role: Role,
    ) {
        if let Some(value) = value {
            self.slots.push(Slot {
                node,
                value,
                axis,
                layout: layout.to_vec(),
                role,
            });
        }
    }

    /// An operator the analysis does not follow: its inputs' channels and outputs are kept.
    pub(super) fn opaque(&mut self, g: &Graph, i: usize) {
        let node = &g.nodes[i];
        for &v in node.inputs.iter().flatten() {
            if let Some(l) = self.layout(g, v) {
                self.block(&l);
            }
        }
        for &o in &node.outputs {
            if g.shape(o).len() >= 2 {
                let fresh = self.fresh(g.shape(o)[1], &node.name, false);
                self.layouts[o] = Some(fresh);
            }
        }
    }

    /// A constant shared by several slots (tied weights) couples their channels; along
    /// different axes it cannot be sliced consistently, so its channels are kept.
    fn tie_shared(&mut self) {
        let mut by_value: BTreeMap<ValueId, Vec<usize>> = BTreeMap::new();
        for (k, s) in self.slots.iter().enumerate() {
            by_value.entry(s.value).or_default().push(k);
        }
        for slots in by_value.values().filter(|s| s.len() > 1) {
            let first = self.slots[slots[0]].clone();
            // A Conv's weights are sliced along both axes; only repeated axes are shared.
            let mut by_axis: BTreeMap<usize, Vec<Vec<usize>>> = BTreeMap::new();
            for &k in slots {
                by_axis
                    .entry(self.slots[k].axis)
                    .or_default()
                    .push(self.slots[k].layout.clone());
            }
            let nodes_differ = slots.iter().any(|&k| self.slots[k].node != first.node);
            if !nodes_differ {
                continue;
            }
            for layouts in by_axis.values() {
                for other in &layouts[1..] {
                    self.unify_layouts(&layouts[0], other);
                }
            }
        }
    }

    fn finish(mut self, g: &Graph) -> Dependencies {
        for &o in &g.outputs {
            if let Some(l) = self.layouts[o].clone() {
                self.block(&l);
            }
        }
        self.tie_shared();
        let n = self.parent.len();
        let class_of: Vec<usize> = (0..n).map(|e| find(&mut self.parent, e)).collect();
        let mut blocked = vec![false; n];
        for e in 0..n {
            if self.blocked[e] {
                blocked[class_of[e]] = true;
            }
        }
        let mut by_space: BTreeMap<usize, (Vec<String>, Vec<usize>)> = BTreeMap::new();
        let mut seen = vec![false; n];
        for (e, &class) in class_of.iter().enumerate() {
            let space = self.space_of[e];
            let root = find(&mut self.space_parent, space);
            let entry = by_space.entry(root).or_default();
            if self.spaces[space].source && !entry.0.contains(&self.spaces[space].name) {
                entry.0.push(self.spaces[space].name.clone());
            }
            if !seen[class] {
                seen[class] = true;
                entry.1.push(class);
            }
        }
        let groups = by_space
            .into_values()
            .filter(|(sources, _)| !sources.is_empty())
            .map(|(sources, classes)| Group {
                name: sources.join(" + "),
                prunable: classes.iter().copied().filter(|&c| !blocked[c]).collect(),
                sources,
                classes,
            })
            .collect();
        Dependencies {
            layouts: self.layouts,
            slots: self.slots,
            depthwise: self.depthwise,
            reshapes: self.reshapes,
            class_of,
            groups,
        }
    }
}

/// Analyses the channel dependencies of an imported graph (nodes in execution order).
pub fn analyse(g: &Graph) -> Dependencies {
    let mut b = Builder {
        layouts: vec![None; g.values.len()],
        ..Builder::default()
    };
    for i in 0..g.nodes.len() {
        b.node(g, i);
    }
    b.finish(g)
}

impl Dependencies {
    /// Class of each index of `layout`.
    pub fn classes<'a>(&'a self, layout: &'a [usize]) -> impl Iterator<Item = usize> + 'a {
        layout.iter().map(|&e| self.class_of[e])
    }

    /// Positions of `layout` that survive when the classes in `removed` go.
    pub fn keep(
        &self,
        layout: &[usize],
        removed: &std::collections::BTreeSet<usize>,
    ) -> Vec<usize> {
        self.classes(layout)
            .enumerate()
            .filter(|(_, c)| !removed.contains(c))
            .map(|(i, _)| i)
            .collect()
    }
}
