//! Comparison of an artifact with its source model on the same data: output agreement, KL
//! divergence and errors against the float reference (tract), and the signal-to-noise ratio
//! of every layer against whittle's float compilation of the same model.

use crate::error::CompileError;
use crate::metrics::{self, ErrorStats};
use crate::run::{Layer, Runner};
use crate::tensor::Tensor;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use whittle_runtime::{AlignedBytes, DType, Model};

/// One layer's fidelity.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Execution index in the compared artifact.
    pub index: usize,
    /// Tensor name.
    pub name: String,
    /// Operator.
    pub op: String,
    /// Signal-to-quantization-noise ratio against the float layer, in dB.
    pub sqnr_db: f64,
}

/// What `compare` reports.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    /// Samples compared.
    pub samples: usize,
    /// Fraction of samples whose top-1 class is the reference's (classifiers).
    pub top1_agreement: f64,
    /// Mean KL divergence of the output distributions (nats).
    pub kl_mean: f64,
    /// 95th percentile of the KL divergence.
    pub kl_p95: f64,
    /// Output error against the reference.
    pub output: ErrorStats,
    /// Per layer, in execution order (layers with a float counterpart).
    pub layers: Vec<LayerReport>,
}

fn dequantize(t: &Tensor, desc: &whittle_runtime::format::TensorDesc<'_>) -> Vec<f32> {
    match (desc.dtype, desc.quant) {
        (DType::I8, Some(q)) => t
            .to_i64()
            .iter()
            .map(|&v| (v as i32 - q.zero_point) as f32 * q.scale)
            .collect(),
        _ => t.to_f32(),
    }
}

/// Compares `artifact` with the ONNX model at `onnx` on `inputs` (float32, leading dimension =
/// samples; one tensor per input).
pub fn compare(
    onnx: &Path,
    artifact: &[u8],
    inputs: &[Tensor],
    opts: &crate::CompileOptions,
) -> Result<CompareReport, CompileError> {
    let err = |e: String| CompileError::Options(e);
    let float = crate::compile_path(
        onnx,
        &crate::CompileOptions {
            quantize: None,
            ..opts.clone()
        },
    )?;
    let mut test = Runner::new(artifact).map_err(|e| err(e.to_string()))?;
    let mut reference = Runner::new(&float.artifact).map_err(|e| err(e.to_string()))?;
    let test_bytes = AlignedBytes::new(artifact);
    let test_model = Model::load(&test_bytes).map_err(|e| err(e.to_string()))?;

    let per_sample: Vec<usize> = (0..test_model.input_count())
        .filter_map(|i| test_model.input(i))
        .map(|d| d.shape.dims().iter().product::<u32>() as usize)
        .collect();
    let samples = inputs
        .iter()
        .zip(&per_sample)
        .map(|(t, &n)| t.len() / n.max(1))
        .min()
        .unwrap_or(0);
    if samples == 0 || inputs.len() != per_sample.len() {
        return Err(err("no samples to compare".into()));
    }
    let (mut agree, mut kls, mut ref_out, mut test_out) =
        (0usize, Vec::new(), Vec::new(), Vec::new());
    let mut noise: HashMap<usize, (f64, f64, String, &'static str)> = HashMap::new();
    let progress = crate::progress::bar(samples as u64, "comparing");
    for s in 0..samples {
        let sample: Vec<Tensor> = inputs
            .iter()
            .zip(&per_sample)
            .map(|(t, &n)| {
                let mut shape = t.shape.clone();
                shape[0] = n / t.shape[1..].iter().product::<usize>().max(1);
                Tensor::f32(shape, t.to_f32()[s * n..(s + 1) * n].to_vec())
            })
            .collect();
        let expected = crate::reference::run_tract(onnx, &sample).map_err(err)?;
        let got = test.run(&sample).map_err(|e| err(e.to_string()))?;
        let out_desc = test_model
            .output(0)
            .ok_or_else(|| err("no output".into()))?;
        let (e, g) = (expected[0].to_f32(), dequantize(&got[0], &out_desc));
        agree += usize::from(metrics::top_k(&e, 1) == metrics::top_k(&g, 1));
        let dist = |x: &[f32]| {
            if metrics::is_distribution(x) {
                x.iter().map(|&v| f64::from(v)).collect()
            } else {
                metrics::softmax(x)
            }
        };
        kls.push(metrics::kl_divergence(&dist(&e), &dist(&g)));
        ref_out.extend(e);
        test_out.extend(g);
        // Layers: float layer `name` against quantized layer `name.q` (or `name`).
        let float_layers = reference
            .run_layers(&sample)
            .map_err(|e| err(e.to_string()))?;
        let by_name: HashMap<&str, &Layer> =
            float_layers.iter().map(|l| (l.name.as_str(), l)).collect();
        for layer in test.run_layers(&sample).map_err(|e| err(e.to_string()))? {
            let base = layer.name.strip_suffix(".q").unwrap_or(&layer.name);
            let Some(f) = by_name.get(base) else { continue };
            let (fv, tv) = (f.real(), layer.real());
            if fv.len() != tv.len() {
                continue;
            }
            let entry =
                noise
                    .entry(layer.index)
                    .or_insert((0.0, 0.0, layer.name.clone(), layer.op));
            entry.0 += fv.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
            entry.1 += fv
                .iter()
                .zip(&tv)
                .map(|(&a, &b)| f64::from(a - b).powi(2))
                .sum::<f64>();
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    let mut layers: Vec<LayerReport> = noise
        .into_iter()
        .map(|(index, (signal, err, name, op))| LayerReport {
            index,
            name,
            op: op.to_string(),
            sqnr_db: if err == 0.0 {
                f64::INFINITY
            } else {
                10.0 * (signal / err).log10()
            },
        })
        .collect();
    layers.sort_by_key(|l| l.index);
    Ok(CompareReport {
        samples,
        top1_agreement: agree as f64 / samples as f64,
        kl_mean: kls.iter().sum::<f64>() / samples as f64,
        kl_p95: metrics::percentile(&kls, 95.0),
        output: metrics::errors(&ref_out, &test_out),
        layers,
    })
}
