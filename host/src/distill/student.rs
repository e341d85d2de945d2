//! The student: whittle's imported float IR run by candle, its weights as `Var`s, so that
//! autograd gives their gradients.

use super::build::{Step, input_shapes, step, trains};
use super::error::DistillError;
use super::layers::{self, from_host};
use super::write::writable;
use crate::error::CompileError;
use crate::import::{ImportOptions, import};
use crate::ir::{Op, ValueId};
use crate::onnx::pb;
use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;
use whittle_runtime::format::{Activation, BinaryKind, PoolKind, UnaryKind};

/// A trainable weight: an ONNX constant and its candle variable.
#[derive(Debug, Clone)]
pub struct Param {
    /// Name of the initializer (or Constant node output) in the model.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The current values.
    pub var: Var,
}

/// Where a node input comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Computed at run time.
    Value(ValueId),
    /// A trained weight (index into the parameters).
    Param(usize),
    /// A constant that stays.
    Const(Tensor),
}

#[derive(Debug, Clone)]
struct Compiled {
    name: String,
    op: String,
    step: Step,
    inputs: Vec<Option<Source>>,
    output: ValueId,
}

/// A float model built in candle for training.
#[derive(Debug, Clone)]
pub struct Student {
    model: pb::ModelProto,
    nodes: Vec<Compiled>,
    params: Vec<Param>,
    input: ValueId,
    input_shape: Vec<usize>,
    logits: ValueId,
    dtype: DType,
    device: Device,
}

impl Student {
    /// Builds the student from `model` (`dir` resolves external data) in float32.
    pub fn new(
        model: &pb::ModelProto,
        dir: Option<&Path>,
        options: &ImportOptions,
    ) -> Result<Self, DistillError> {
        Self::with_dtype(model, dir, options, DType::F32)
    }

    /// Builds the student computing in `dtype` (float64 makes gradient checks precise).
    pub fn with_dtype(
        model: &pb::ModelProto,
        dir: Option<&Path>,
        options: &ImportOptions,
        dtype: DType,
    ) -> Result<Self, DistillError> {
        let imported = import(model, dir, options)?;
        if !imported.unsupported.is_empty() {
            return Err(CompileError::Unsupported(imported.unsupported).into());
        }
        if let Some((node, op)) = imported.blocked.first() {
            return Err(DistillError::Unsupported {
                node: node.clone(),
                op: op.clone(),
                shapes: "unknown".into(),
                reason: "its inputs could not be analysed".into(),
            });
        }
        let g = imported.graph;
        if g.inputs.len() != 1 || g.outputs.len() != 1 {
            return Err(DistillError::Options(format!(
                "the trainer takes models with one input and one output; this one has {} and {}",
                g.inputs.len(),
                g.outputs.len()
            )));
        }
        let graph_proto = model.graph.as_ref().ok_or_else(|| {
            DistillError::Import(CompileError::Malformed("the model has no graph".into()))
        })?;
        let device = Device::Cpu;
        let producers = g.producers();
        // A final Softmax is left out: distillation and cross-entropy want the logits.
        let mut logits = g.outputs[0];
        let mut skip = None;
        if let Some(p) = producers[logits]
            && let Op::Softmax { axis, .. } = g.nodes[p].op
            && axis as usize + 1 == g.shape(logits).len()
            && let Some(input) = g.nodes[p].input(0)
        {
            skip = Some(p);
            logits = input;
        }
        let mut params: Vec<Param> = Vec::new();
        let mut by_value: HashMap<ValueId, usize> = HashMap::new();
        let mut nodes = Vec::new();
        for (k, node) in g.nodes.iter().enumerate() {
            if Some(k) == skip {
                continue;
            }
            let step = step(&g, node)?;
            let mut inputs = Vec::with_capacity(node.inputs.len());
            for (index, input) in node.inputs.iter().enumerate() {
                let Some(id) = *input else {
                    inputs.push(None);
                    continue;
                };
                let value = &g.values[id];
                let source = match &value.konst {
                    None => Source::Value(id),
                    Some(t) if trains(&g, &producers, node, index) => {
                        if let Some(&p) = by_value.get(&id) {
                            Source::Param(p)
                        } else {
                            writable(graph_proto, &value.name).map_err(|reason| {
                                DistillError::Weight {
                                    tensor: value.name.clone(),
                                    shape: t.shape.clone(),
                                    node: node.name.clone(),
                                    op: node.op_type.clone(),
                                    reason,
                                }
                            })?;
                            let var = Var::from_tensor(&from_host(t, dtype, &device)?)?;
                            by_value.insert(id, params.len());
                            params.push(Param {
                                name: value.name.clone(),
                                shape: t.shape.clone(),
                                var,
                            });
                            Source::Param(params.len() - 1)
                        }
                    }
                    Some(t) => Source::Const(from_host(t, dtype, &device)?),
                };
                inputs.push(Some(source));
            }
            let output = *node
                .outputs
                .first()
                .ok_or_else(|| DistillError::Unsupported {
                    node: node.name.clone(),
                    op: node.op_type.clone(),
                    shapes: input_shapes(&g, node),
                    reason: "it has no output".into(),
                })?;
            nodes.push(Compiled {
                name: node.name.clone(),
                op: node.op_type.clone(),
                step,
                inputs,
                output,
            });
        }
        Ok(Student {
            model: model.clone(),
            nodes,
            params,
            input: g.inputs[0],
            input_shape: g.shape(g.inputs[0]).to_vec(),
            logits,
            dtype,
            device,
        })
    }

    /// The trained weights.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The model's input shape as imported (its first axis is the batch).
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The element type the student computes in.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device (the CPU).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The source model, as given.
    pub fn model(&self) -> &pb::ModelProto {
        &self.model
    }

    /// Logits `[N, classes]` for a batch `x` `[N, ...]` (before a final Softmax, if any).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor, DistillError> {
        self.forward_gated(x, &HashMap::new())
    }

    /// Like [`Student::forward`], but the first input of every node named in `gates` (IR
    /// node names, as `import` gives them) is multiplied by its gate first (broadcasting).
    /// Gates that are variables of ones give, through autograd, `sum(a * dL/da)` over the
    /// positions each gate element covers (the pruner's first-order Taylor importance).
    pub(crate) fn forward_gated(
        &self,
        x: &Tensor,
        gates: &HashMap<String, Tensor>,
    ) -> Result<Tensor, DistillError> {
        let mut env: HashMap<ValueId, Tensor> = HashMap::new();
        env.insert(self.input, x.to_dtype(self.dtype)?);
        for node in &self.nodes {
            let mut inputs: Vec<Option<Tensor>> = node
                .inputs
                .iter()
                .map(|s| {
                    s.as_ref().map(|s| match s {
                        Source::Value(id) => env.get(id).cloned(),
                        Source::Param(p) => Some(self.params[*p].var.as_tensor().clone()),
                        Source::Const(t) => Some(t.clone()),
                    })
                })
                .map(|t| t.flatten())
                .collect();
            if let (Some(gate), Some(Some(first))) = (gates.get(&node.name), inputs.first_mut()) {
                *first = first.broadcast_mul(gate)?;
            }
            let y = run(&node.step, &inputs).map_err(|error| DistillError::Node {
                node: node.name.clone(),
                op: node.op.clone(),
                shapes: format!(
                    "[{}]",
                    inputs
                        .iter()
                        .map(|t| t.as_ref().map_or("-".into(), |t| format!("{:?}", t.dims())))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                error: Box::new(error),
            })?;
            env.insert(node.output, y);
        }
        let logits = env
            .remove(&self.logits)
            .ok_or_else(|| DistillError::Options("the model's output is a constant".into()))?;
        Ok(logits.flatten_from(1)?)
    }
}

fn input(inputs: &[Option<Tensor>], i: usize) -> candle_core::Result<&Tensor> {
    inputs
        .get(i)
        .and_then(Option::as_ref)
        .ok_or_else(|| candle_core::Error::Msg(format!("input {i} is missing")))
}

fn activation(y: Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::None => Ok(y),
        Activation::Relu => y.relu(),
        Activation::Clip { min, max } => layers::clip(&y, min, max),
    }
}

/// Runs one step.
fn run(step: &Step, inputs: &[Option<Tensor>]) -> candle_core::Result<Tensor> {
    let x = input(inputs, 0)?;
    match step {
        Step::Conv { window, group } => {
            let b = inputs.get(2).and_then(Option::as_ref);
            layers::conv(x, input(inputs, 1)?, b, window, *group)
        }
        Step::Gemm {
            alpha,
            beta,
            trans_b,
        } => {
            let b = input(inputs, 1)?;
            let b = if *trans_b { b.t()? } else { b.clone() };
            let mut y = x.matmul(&b)?;
            if *alpha != 1.0 {
                y = (y * *alpha as f64)?;
            }
            if let Some(c) = inputs.get(2).and_then(Option::as_ref) {
                let c = if *beta != 1.0 {
                    (c * *beta as f64)?
                } else {
                    c.clone()
                };
                y = y.broadcast_add(&c)?;
            }
            Ok(y)
        }
        Step::MatMul => x.broadcast_matmul(input(inputs, 1)?),
        Step::Binary(kind, act) => {
            let b = input(inputs, 1)?;
            let y = match kind {
                BinaryKind::Add => x.broadcast_add(b)?,
                BinaryKind::Sub => x.broadcast_sub(b)?,
                BinaryKind::Mul => x.broadcast_mul(b)?,
                BinaryKind::Div => x.broadcast_div(b)?,
                BinaryKind::Max => x.broadcast_maximum(b)?,
                BinaryKind::Min => x.broadcast_minimum(b)?,
            };
            activation(y, *act)
        }
        Step::Unary(kind) => match kind {
            UnaryKind::Relu => x.relu(),
            UnaryKind::Clip { min, max } => layers::clip(x, *min, *max),
            UnaryKind::LeakyRelu { alpha } => {
                let neg = (x.clamp(f64::MIN, 0.0)? * *alpha as f64)?;
                x.relu()? + neg
            }
            UnaryKind::Sigmoid => (x.neg()?.exp()? + 1.0)?.recip(),
            UnaryKind::Tanh => x.tanh(),
            other => Err(candle_core::Error::Msg(format!("{other:?} is not trained"))),
        },
        Step::Softmax { axis, log } => layers::softmax(x, *axis, *log),
        Step::MaxPool(w) => layers::max_pool(x, w),
        Step::AvgPool(w, divisor) => {
            let d = Tensor::from_slice(divisor, (1, 1, w.out[0], w.out[1]), x.device())?
                .to_dtype(x.dtype())?;
            layers::avg_pool(x, w, &d)
        }
        Step::GlobalPool(kind) => {
            let dims = x.dims().to_vec();
            let flat = x.flatten_from(2)?;
            let y = match kind {
                PoolKind::Max => layers::max_along(&flat, 2)?,
                PoolKind::Avg { .. } => flat.mean_keepdim(2)?,
            };
            let mut out = dims;
            out[2..].fill(1);
            y.reshape(out)
        }
        Step::BatchNorm { epsilon } => {
            let per_channel = |i: usize| -> candle_core::Result<Tensor> {
                let mut shape = vec![1; x.rank()];
                shape[1] = x.dim(1)?;
                input(inputs, i)?.reshape(shape)
            };
            let (scale, bias, mean, var) = (
                per_channel(1)?,
                per_channel(2)?,
                per_channel(3)?,
                per_channel(4)?,
            );
            let inv = (var + *epsilon as f64)?.sqrt()?.recip()?;
            x.broadcast_sub(&mean)?
                .broadcast_mul(&inv.broadcast_mul(&scale)?)?
                .broadcast_add(&bias)
        }
        Step::Reshape(dims) => {
            let mut shape = vec![x.dim(0)?];
            shape.extend_from_slice(dims);
            x.reshape(shape)
        }
        Step::Transpose(perm) => x.permute(perm.as_slice()),
        Step::Concat(axis) => {
            let n = x.dim(0)?;
            let parts = inputs
                .iter()
                .flatten()
                .map(|t| {
                    // A constant operand has batch 1 in the IR; repeat it over the batch.
                    if t.dim(0)? == n {
                        Ok(t.clone())
                    } else {
                        let mut dims = t.dims().to_vec();
                        dims[0] = n;
                        t.broadcast_as(dims)
                    }
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::cat(&parts, *axis)
        }
        Step::Identity => Ok(x.clone()),
    }
}
