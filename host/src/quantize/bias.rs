//! Empirical bias correction: the mean error quantization introduces at the output of each
//! convolution and linear layer, measured on the calibration samples against the float model,
//! is subtracted through the layer's bias.

use crate::error::CompileError;
use crate::ir::{Graph, Op};
use crate::lower::{Program, lower};
use crate::plan::{plan, reuse_in_place};
use crate::run::Runner;
use crate::tensor::Tensor;
use std::collections::HashMap;

fn build(g: &Graph) -> Result<(Program, Vec<u8>), CompileError> {
    let mut program = lower(g)?;
    reuse_in_place(&mut program);
    let memory = plan(&program);
    let artifact =
        crate::artifact::write(&program, &memory, "generic").map_err(CompileError::Options)?;
    Ok((program, artifact))
}

/// Sums per output channel (last physical axis) of one layer's error, over samples.
#[derive(Default)]
struct ChannelError {
    sums: Vec<f64>,
    count: f64,
}

/// Corrects the biases of the quantized graph `quantized` (in place) by the mean per-channel
/// error against the float graph `float` on `samples` calibration samples of `inputs`.
pub fn correct_biases(
    float: &Graph,
    quantized: &mut Graph,
    inputs: &[Tensor],
    samples: usize,
) -> Result<usize, CompileError> {
    let err = |e: crate::run::RunError| CompileError::Options(format!("bias correction: {e}"));
    let (float_program, float_artifact) = build(float)?;
    let (quant_program, quant_artifact) = build(quantized)?;
    let mut float_runner = Runner::new(&float_artifact).map_err(err)?;
    let mut quant_runner = Runner::new(&quant_artifact).map_err(err)?;
    // Layers to correct: int8 convolution and dense outputs, by the IR node that made them.
    let corrected: HashMap<&str, usize> = quant_program
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| matches!(op.kind.name(), "Conv2dI8" | "DepthwiseConv2dI8" | "DenseI8"))
        .map(|(i, op)| (op.node.as_str(), i))
        .collect();
    let float_index: HashMap<&str, usize> = float_program
        .ops
        .iter()
        .enumerate()
        .filter(|(_, op)| corrected.contains_key(op.node.as_str()))
        .map(|(i, op)| (op.node.as_str(), i))
        .collect();
    let mut errors: HashMap<String, ChannelError> = HashMap::new();
    let per_sample: Vec<usize> = float
        .inputs
        .iter()
        .map(|&v| float.shape(v).iter().product())
        .collect();
    for s in 0..samples {
        let sample: Vec<Tensor> = inputs
            .iter()
            .zip(&float.inputs)
            .zip(&per_sample)
            .map(|((t, &v), &n)| {
                Tensor::f32(
                    float.shape(v).to_vec(),
                    t.to_f32()[s * n..(s + 1) * n].to_vec(),
                )
            })
            .collect();
        let float_layers = float_runner.run_layers(&sample).map_err(err)?;
        let quant_layers = quant_runner.run_layers(&sample).map_err(err)?;
        for (&node, &qi) in &corrected {
            let Some(&fi) = float_index.get(node) else {
                continue;
            };
            let (f, q) = (&float_layers[fi], &quant_layers[qi]);
            let channels = *q.tensor.shape.last().unwrap_or(&1);
            let (fv, qv) = (f.real(), q.real());
            if fv.len() != qv.len() || channels == 0 {
                continue;
            }
            let e = errors.entry(node.to_string()).or_default();
            e.sums.resize(channels, 0.0);
            for (i, (a, b)) in fv.iter().zip(&qv).enumerate() {
                e.sums[i % channels] += f64::from(a - b);
            }
            e.count += (fv.len() / channels) as f64;
        }
    }
    let mut changed = 0;
    for n in 0..quantized.nodes.len() {
        let node = &quantized.nodes[n];
        let Some(e) = errors.get(&node.name).filter(|e| e.count > 0.0) else {
            continue;
        };
        if !matches!(node.op, Op::Conv(_) | Op::Linear { .. }) {
            continue;
        }
        let channels = e.sums.len();
        let current = node
            .input(2)
            .and_then(|b| quantized.konst(b))
            .map(Tensor::to_f32)
            .unwrap_or_else(|| vec![0.0; channels]);
        if current.len() != channels {
            continue;
        }
        let bias: Vec<f32> = current
            .iter()
            .zip(&e.sums)
            .map(|(&b, &s)| b + (s / e.count) as f32)
            .collect();
        let name = format!("{}.corrected_bias", node.name);
        let id = quantized.add_constant(name, Tensor::f32(vec![channels], bias));
        let node = &mut quantized.nodes[n];
        node.inputs.resize(3, None);
        node.inputs[2] = Some(id);
        changed += 1;
    }
    Ok(changed)
}
