//! The student: whittle's imported float IR run by candle, its weights as `Var`s, so that
//! autograd gives their gradients.

use super::build::{Step, input_shapes, step, trains};
use super::error::DistillError;
use super::exec::run;
use super::fake_quant;
use super::layers::from_host;
use super::qat::{Ranges, WeightPlan, weight_plan};
use super::write::writable;
use crate::error::CompileError;
use crate::import::{ImportOptions, import};
use crate::ir::{Op, ValueId};
use crate::onnx::pb;
use candle_core::{DType, Device, Tensor, Var};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

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
    /// How int8 compilation quantizes the weight, with the batch norm it folds in as an
    /// index into the compiled nodes.
    weight: Option<(WeightPlan, Option<usize>)>,
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
    dir: Option<PathBuf>,
    import: ImportOptions,
    /// Computed values by name (the compiler's passes keep the names of what they fuse).
    names: HashMap<String, ValueId>,
    /// The output of the final Softmax the student leaves out, if any.
    final_softmax: Option<String>,
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
        let mut compiled_index: HashMap<usize, usize> = HashMap::new();
        let mut plans = Vec::new();
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
            compiled_index.insert(k, nodes.len());
            plans.push(weight_plan(&g, k));
            nodes.push(Compiled {
                name: node.name.clone(),
                op: node.op_type.clone(),
                step,
                inputs,
                output,
                weight: None,
            });
        }
        for (node, plan) in nodes.iter_mut().zip(plans) {
            let trained = matches!(node.inputs.get(1), Some(Some(Source::Param(_))));
            node.weight = plan.filter(|_| trained).map(|p| {
                let bn = p.batch_norm.and_then(|b| compiled_index.get(&b).copied());
                (p, bn)
            });
        }
        // The int8 model quantizes a final Softmax's output with fixed parameters; the student
        // stops before it, so that value has no counterpart and needs none.
        let final_softmax = skip.map(|_| g.values[g.outputs[0]].name.clone());
        let mut names: HashMap<String, ValueId> = HashMap::new();
        names.insert(g.values[g.inputs[0]].name.clone(), g.inputs[0]);
        for node in &nodes {
            names.insert(g.values[node.output].name.clone(), node.output);
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
            dir: dir.map(Path::to_path_buf),
            import: options.clone(),
            names,
            final_softmax,
        })
    }

    /// The directory external tensor data resolves against.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The import options the student was built with.
    pub fn import_options(&self) -> &ImportOptions {
        &self.import
    }

    /// The output of the final Softmax the student stops before, if any.
    pub(crate) fn final_softmax(&self) -> Option<&str> {
        self.final_softmax.as_deref()
    }

    /// The computed value (or the input) named `name`.
    pub(crate) fn value_named(&self, name: &str) -> Option<ValueId> {
        self.names.get(name).copied()
    }

    /// Number of weights int8 compilation quantizes (those [`Student::forward_int8`]
    /// fake-quantizes).
    pub fn quantized_weights(&self) -> usize {
        self.nodes.iter().filter(|n| n.weight.is_some()).count()
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
        self.forward_with(x, &HashMap::new(), None)
    }

    /// Logits as whittle's int8 compilation of the current weights computes them (up to the
    /// fixed-point rounding of its requantization): every Conv/Gemm/MatMul weight
    /// fake-quantized per channel, every activation in `ranges` fake-quantized per tensor,
    /// with straight-through gradients (see [`fake_quant`]).
    pub fn forward_int8(&self, x: &Tensor, ranges: &Ranges) -> Result<Tensor, DistillError> {
        self.forward_with(x, &HashMap::new(), Some(ranges))
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
        self.forward_with(x, gates, None)
    }

    fn source(&self, s: &Source, env: &HashMap<ValueId, Tensor>) -> Option<Tensor> {
        match s {
            Source::Value(id) => env.get(id).cloned(),
            Source::Param(p) => Some(self.params[*p].var.as_tensor().clone()),
            Source::Const(t) => Some(t.clone()),
        }
    }

    /// The factors the compiler multiplies `node`'s weight by before quantizing it.
    fn folds(&self, plan: &WeightPlan, bn: Option<usize>) -> candle_core::Result<Vec<Vec<f32>>> {
        let mut folds = Vec::new();
        if let Some(alpha) = plan.alpha {
            folds.push(vec![alpha]);
        }
        if let Some(b) = bn
            && let Step::BatchNorm { epsilon } = self.nodes[b].step
        {
            let env = HashMap::new();
            let get = |i: usize| -> candle_core::Result<Vec<f32>> {
                let t = self.nodes[b].inputs.get(i).and_then(Option::as_ref);
                let t = t.and_then(|s| self.source(s, &env)).ok_or_else(|| {
                    candle_core::Error::Msg(format!("batch norm input {i} is not constant"))
                })?;
                t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
            };
            folds.push(crate::passes::fold_scale(&get(1)?, &get(4)?, epsilon));
        }
        Ok(folds)
    }

    fn forward_with(
        &self,
        x: &Tensor,
        gates: &HashMap<String, Tensor>,
        int8: Option<&Ranges>,
    ) -> Result<Tensor, DistillError> {
        let mut env: HashMap<ValueId, Tensor> = HashMap::new();
        let mut x = x.to_dtype(self.dtype)?;
        if let Some(&(scale, zp)) = int8.and_then(|r| r.params.get(&self.input)) {
            x = fake_quant::activation(&x, scale, zp)?;
        }
        env.insert(self.input, x);
        for node in &self.nodes {
            let mut inputs: Vec<Option<Tensor>> = node
                .inputs
                .iter()
                .map(|s| s.as_ref().map(|s| self.source(s, &env)))
                .map(|t| t.flatten())
                .collect();
            if let (Some(_), Some((plan, bn)), Some(Some(w))) =
                (int8, &node.weight, inputs.get_mut(1))
            {
                *w = fake_quant::weight(w, plan.axis, &self.folds(plan, *bn)?)?;
            }
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
            let y = match int8.and_then(|r| r.params.get(&node.output)) {
                Some(&(scale, zp)) => fake_quant::activation(&y, scale, zp)?,
                None => y,
            };
            env.insert(node.output, y);
        }
        let logits = env
            .remove(&self.logits)
            .ok_or_else(|| DistillError::Options("the model's output is a constant".into()))?;
        Ok(logits.flatten_from(1)?)
    }
}
