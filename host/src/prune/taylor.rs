//! First-order Taylor importance (Molchanov et al., 2019, "Importance Estimation for Neural
//! Network Pruning"), measured on data with candle's autograd.
//!
//! Removing a channel class means that every Conv, Gemm or MatMul reading it reads zero
//! instead (which is what [`super::mask`] builds). Put a gate `z = 1` on each such read; the
//! first-order change of sample `n`'s loss when the class goes is
//! `t[n, c] = -dL_n/dz_c = -sum(a * dL_n/da)`, summed over every position and every coupled
//! read of the class. The importance is the mean over the samples of `t[n, c]^2`: the
//! per-sample squared criterion of the paper, applied to the gate of the whole class (so the
//! reads of coupled layers, a residual's branches, the `H*W` Gemm columns after a Flatten, are
//! summed before squaring, as one removal).
//!
//! The loss is the cross-entropy against the labels when the data has them, else against the
//! class the model itself predicts (a KL divergence to its own outputs has zero gradient at
//! the unpruned model). Per-sample terms come from one backward pass per batch: a gate of
//! shape `[N, C, 1, ...]` gives each sample its own gradient, since sample `n`'s activations
//! only reach sample `n`'s loss.

use super::error::PruneError;
use super::groups::{Dependencies, Role};
use super::sensitivity::EvalData;
use crate::distill::{DistillError, Student, loss};
use crate::import::ImportOptions;
use crate::ir::Graph;
use crate::onnx::pb;
use candle_core::{DType, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// Samples used when the caller gives no limit.
pub const DEFAULT_SAMPLES: usize = 256;

/// Samples per forward and backward pass.
const BATCH: usize = 64;

/// A gated read: the IR node, its input's channel count and rank, and the class of each
/// channel.
struct Read {
    node: String,
    rank: usize,
    classes: Vec<usize>,
}

fn reads(g: &Graph, deps: &Dependencies) -> Vec<Read> {
    let mut out: Vec<Read> = Vec::new();
    for slot in deps.slots.iter().filter(|s| s.role == Role::Consumer) {
        let node = &g.nodes[slot.node];
        let Some(x) = node.input(0) else { continue };
        let shape = g.shape(x);
        if shape.len() < 2 || shape[1] != slot.layout.len() {
            continue;
        }
        // A node reads its input once, whatever the number of slots describing it.
        if out.iter().any(|r| r.node == node.name) {
            continue;
        }
        out.push(Read {
            node: node.name.clone(),
            rank: shape.len(),
            classes: deps.classes(&slot.layout).collect(),
        });
    }
    out
}

fn taylor_error(e: impl Into<DistillError>) -> PruneError {
    PruneError::Taylor(Box::new(e.into()))
}

/// Raw Taylor importance of every class (mean over samples of the squared first-order change
/// of the loss), on at most `limit` samples of `data`.
pub fn scores(
    model: &pb::ModelProto,
    dir: Option<&Path>,
    import_options: &ImportOptions,
    g: &Graph,
    deps: &Dependencies,
    data: &EvalData,
    limit: usize,
) -> Result<HashMap<usize, f64>, PruneError> {
    let student = Student::new(model, dir, import_options).map_err(taylor_error)?;
    let [inputs] = data.inputs.as_slice() else {
        return Err(PruneError::Options(format!(
            "taylor importance needs a model with one input; the data gives {}",
            data.inputs.len()
        )));
    };
    let dims = inputs.shape.get(1..).unwrap_or(&[]).to_vec();
    if dims != student.input_shape()[1..] {
        return Err(PruneError::Options(format!(
            "the data's samples have shape {dims:?}, the model takes {:?}",
            &student.input_shape()[1..]
        )));
    }
    let n = inputs.shape.first().copied().unwrap_or(0).min(limit);
    if n == 0 {
        return Err(PruneError::Options(
            "taylor importance needs at least one sample".into(),
        ));
    }
    let per_sample: usize = dims.iter().product();
    let x = inputs.to_f32();
    let reads = reads(g, deps);
    let mut sums: HashMap<usize, f64> = HashMap::new();
    let dev = student.device().clone();
    for start in (0..n).step_by(BATCH) {
        let rows = BATCH.min(n - start);
        let mut shape = vec![rows];
        shape.extend_from_slice(&dims);
        let batch = x[start * per_sample..(start + rows) * per_sample].to_vec();
        let xb = Tensor::from_vec(batch, shape, &dev).map_err(taylor_error)?;
        let mut gates = HashMap::new();
        let mut vars = Vec::with_capacity(reads.len());
        for read in &reads {
            let mut gate_shape = vec![1; read.rank];
            gate_shape[0] = rows;
            gate_shape[1] = read.classes.len();
            let var = Var::ones(gate_shape, student.dtype(), &dev).map_err(taylor_error)?;
            gates.insert(read.node.clone(), var.as_tensor().clone());
            vars.push(var);
        }
        let logits = student.forward_gated(&xb, &gates).map_err(taylor_error)?;
        let classes = logits.dim(1).map_err(taylor_error)?;
        let labels: Vec<u32> = match &data.labels {
            Some(y) => y[start..start + rows]
                .iter()
                .map(|&l| {
                    u32::try_from(l)
                        .ok()
                        .filter(|&l| (l as usize) < classes)
                        .ok_or_else(|| {
                            PruneError::Options(format!(
                                "label {l} is outside the model's {classes} classes"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?,
            None => logits
                .detach()
                .argmax(1)
                .and_then(|a| a.to_vec1::<u32>())
                .map_err(taylor_error)?,
        };
        let labels = Tensor::new(labels, &dev).map_err(taylor_error)?;
        // The summed loss: each sample's gradient is its own loss's.
        let total = loss::cross_entropy(&logits, &labels)
            .and_then(|l| l * rows as f64)
            .map_err(taylor_error)?;
        let grads = total.backward().map_err(taylor_error)?;
        let mut per_class: HashMap<usize, Vec<f64>> = HashMap::new();
        for (read, var) in reads.iter().zip(&vars) {
            let Some(grad) = grads.get(var.as_tensor()) else {
                continue;
            };
            let values = grad
                .to_dtype(DType::F64)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f64>())
                .map_err(taylor_error)?;
            let width = read.classes.len();
            for (k, &class) in read.classes.iter().enumerate() {
                let t = per_class.entry(class).or_insert_with(|| vec![0.0; rows]);
                for (s, v) in t.iter_mut().enumerate() {
                    *v += values[s * width + k];
                }
            }
        }
        for (class, t) in per_class {
            *sums.entry(class).or_insert(0.0) += t.iter().map(|v| v * v).sum::<f64>();
        }
    }
    Ok(sums.into_iter().map(|(c, s)| (c, s / n as f64)).collect())
}
