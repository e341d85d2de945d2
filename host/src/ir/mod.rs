//! whittle's graph IR: ONNX semantics (logical NCHW shapes), static shapes, typed attributes.

pub mod geometry;
mod op;

pub use op::{ConvAttrs, GemmAttrs, Op, PoolAttrs, SliceAttrs};

use crate::tensor::{ElemType, Tensor};

/// Index of a value in [`Graph::values`].
pub type ValueId = usize;

/// A tensor flowing through the graph.
#[derive(Debug, Clone)]
pub struct Value {
    /// Name in the source model.
    pub name: String,
    /// Element type.
    pub dtype: ElemType,
    /// Static shape; `None` while unknown (downstream of an unsupported node).
    pub shape: Option<Vec<usize>>,
    /// Contents, when known at compile time.
    pub konst: Option<Tensor>,
    /// Quantization: of an int8 activation, or of a constant that came out of a
    /// DequantizeLinear (with its exact integers).
    pub quant: Option<Quant>,
}

/// `real = scale[c] * (q - zero_point[c])`, per tensor (one entry) or per channel along `axis`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quant {
    /// Scales.
    pub scale: Vec<f32>,
    /// Zero points.
    pub zero_point: Vec<i64>,
    /// Channel axis (per-channel quantization).
    pub axis: usize,
    /// The exact integers of a quantized constant.
    pub ints: Option<Tensor>,
}

impl Quant {
    /// Per-tensor parameters.
    pub fn per_tensor(scale: f32, zero_point: i64) -> Self {
        Quant {
            scale: vec![scale],
            zero_point: vec![zero_point],
            axis: 0,
            ints: None,
        }
    }

    /// Whether there is a single scale.
    pub fn is_per_tensor(&self) -> bool {
        self.scale.len() == 1
    }

    /// Whether two per-tensor parameter sets are identical.
    pub fn same_as(&self, other: &Quant) -> bool {
        self.scale == other.scale && self.zero_point == other.zero_point
    }
}

impl Value {
    /// The shape, or an empty slice when unknown.
    pub fn dims(&self) -> &[usize] {
        self.shape.as_deref().unwrap_or(&[])
    }

    /// Number of elements (0 when the shape is unknown).
    pub fn elements(&self) -> usize {
        self.shape.as_ref().map_or(0, |s| s.iter().product())
    }
}

/// An operator application.
#[derive(Debug, Clone)]
pub struct Node {
    /// Node name in the source model (made unique by the importer).
    pub name: String,
    /// ONNX operator type as written in the source model.
    pub op_type: String,
    /// Parsed operator.
    pub op: Op,
    /// Inputs by ONNX position; `None` for an omitted optional input.
    pub inputs: Vec<Option<ValueId>>,
    /// Outputs.
    pub outputs: Vec<ValueId>,
}

impl Node {
    /// Input `i`, if present.
    pub fn input(&self, i: usize) -> Option<ValueId> {
        self.inputs.get(i).copied().flatten()
    }
}

/// What became of a source node during compilation (for `whittle check`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeFate {
    /// Runs on the device.
    Runs,
    /// Computed at compile time (all its inputs were constant).
    Folded,
    /// Merged into another node.
    FusedInto(String),
    /// Removed: it does nothing at run time.
    Removed(&'static str),
}

/// A model graph with nodes in execution (topological) order.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// All values.
    pub values: Vec<Value>,
    /// Nodes in execution order.
    pub nodes: Vec<Node>,
    /// Graph inputs (non-constant).
    pub inputs: Vec<ValueId>,
    /// Graph outputs.
    pub outputs: Vec<ValueId>,
    /// ONNX default-domain opset version.
    pub opset: i64,
    /// Nodes that no longer run as themselves, with what happened to them.
    pub fates: Vec<(String, String, NodeFate)>,
}

impl Graph {
    /// Adds a value and returns its id.
    pub fn add_value(&mut self, value: Value) -> ValueId {
        self.values.push(value);
        self.values.len() - 1
    }

    /// Adds a constant value holding `t` and returns its id.
    pub fn add_constant(&mut self, name: String, t: Tensor) -> ValueId {
        self.add_value(Value {
            name,
            dtype: t.dtype,
            shape: Some(t.shape.clone()),
            konst: Some(t),
            quant: None,
        })
    }

    /// Shape of a value (empty when unknown).
    pub fn shape(&self, id: ValueId) -> &[usize] {
        self.values[id].dims()
    }

    /// Constant contents of a value.
    pub fn konst(&self, id: ValueId) -> Option<&Tensor> {
        self.values[id].konst.as_ref()
    }

    /// Number of nodes reading each value, plus one per graph-output use.
    pub fn use_counts(&self) -> Vec<usize> {
        let mut uses = vec![0; self.values.len()];
        for node in &self.nodes {
            for id in node.inputs.iter().flatten() {
                uses[*id] += 1;
            }
        }
        for &id in &self.outputs {
            uses[id] += 1;
        }
        uses
    }

    /// Index of the node producing each value, if any.
    pub fn producers(&self) -> Vec<Option<usize>> {
        let mut producer = vec![None; self.values.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for &id in &node.outputs {
                producer[id] = Some(i);
            }
        }
        producer
    }

    /// Records that `node` no longer runs as itself.
    pub fn record_fate(&mut self, node: &Node, fate: NodeFate) {
        self.fates
            .push((node.name.clone(), node.op_type.clone(), fate));
    }
}
