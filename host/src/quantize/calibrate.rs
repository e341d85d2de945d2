//! Calibration: run the float model on each sample through whittle-runtime and gather the
//! statistics of every activation (two streaming passes: ranges, then histograms).

use super::ranges::{Method, TensorStats};
use crate::error::CompileError;
use crate::ir::{Graph, ValueId};
use crate::lower::{Program, lower};
use crate::plan::{plan, reuse_in_place};
use crate::tensor::Tensor;
use std::collections::HashMap;
use whittle_runtime::{AlignedBytes, Interpreter, Model};

/// Statistics of every activation, by IR value.
#[derive(Debug, Clone)]
pub struct Calibration {
    /// Per value.
    pub stats: HashMap<ValueId, TensorStats>,
    /// Samples used.
    pub samples: usize,
}

/// Number of samples in `inputs` for a graph whose inputs have the given shapes (leading
/// dimension counts samples of the graph's batch).
fn sample_count(g: &Graph, inputs: &[Tensor]) -> Result<usize, CompileError> {
    let err = CompileError::Calibration;
    if inputs.len() != g.inputs.len() {
        return Err(err(format!(
            "{} array(s) for the model's {} input(s)",
            inputs.len(),
            g.inputs.len()
        )));
    }
    let mut count = None;
    for (&id, t) in g.inputs.iter().zip(inputs) {
        let want = g.shape(id);
        let per_sample: usize = want.iter().product();
        let ok = t.shape.len() == want.len()
            && t.shape[1..] == want[1..]
            && per_sample > 0
            && t.len() % per_sample == 0;
        if !ok {
            return Err(err(format!(
                "array of shape {:?} does not fit input '{}' of shape {want:?}",
                t.shape, g.values[id].name
            )));
        }
        let n = t.len() / per_sample;
        if *count.get_or_insert(n) != n {
            return Err(err("the arrays disagree on the number of samples".into()));
        }
    }
    count
        .filter(|&n| n > 0)
        .ok_or_else(|| err("no samples (the arrays are empty)".into()))
}

/// The first NaN or infinity among the first `samples` samples of each input: calibrating on
/// it would give a range of NaN or infinite width, and so a useless scale.
fn check_finite(g: &Graph, inputs: &[Tensor], samples: usize) -> Result<(), CompileError> {
    for (&id, t) in g.inputs.iter().zip(inputs) {
        let Some(values) = t.as_f32() else {
            continue; // integers are finite
        };
        let per_sample: usize = g.shape(id).iter().product();
        let used = &values[..(samples * per_sample).min(values.len())];
        if let Some(at) = used.iter().position(|v| !v.is_finite()) {
            return Err(CompileError::Calibration(format!(
                "sample {} of input '{}' holds {} (element {} of the sample)",
                at / per_sample,
                g.values[id].name,
                used[at],
                at % per_sample
            )));
        }
    }
    Ok(())
}

/// Runs `pass` over every sample with an observer of every operator's float output.
fn each_sample(
    program: &Program,
    artifact: &[u8],
    g: &Graph,
    inputs: &[Tensor],
    samples: usize,
    progress: &indicatif::ProgressBar,
    mut visit: impl FnMut(ValueId, &[f32]),
) -> Result<(), CompileError> {
    let bytes = AlignedBytes::new(artifact);
    let model = Model::load(&bytes)
        .map_err(|e| CompileError::Options(format!("calibration model: {e}")))?;
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut interp =
        Interpreter::new(&model, &mut arena).map_err(|e| CompileError::Options(e.to_string()))?;
    let data: Vec<Vec<f32>> = inputs.iter().map(Tensor::to_f32).collect();
    for s in 0..samples {
        for (i, (&id, x)) in g.inputs.iter().zip(&data).enumerate() {
            let len = g.shape(id).iter().product::<usize>();
            let sample = &x[s * len..(s + 1) * len];
            visit(id, sample);
            interp
                .set_input::<f32>(i, sample)
                .map_err(|e| CompileError::Options(e.to_string()))?;
        }
        interp
            .invoke_observed(|index, _, out| {
                if let Some(value) = program.ops.get(index).and_then(|op| op.value) {
                    visit(value, bytemuck_f32(out).as_slice());
                }
            })
            .map_err(|e| CompileError::Options(e.to_string()))?;
        progress.inc(1);
    }
    Ok(())
}

fn bytemuck_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        .collect()
}

/// Gathers activation statistics of the float graph `g` over `inputs`.
pub fn calibrate(
    g: &Graph,
    inputs: &[Tensor],
    method: Method,
    limit: Option<usize>,
) -> Result<Calibration, CompileError> {
    let samples = sample_count(g, inputs)?.min(limit.unwrap_or(usize::MAX));
    if samples == 0 {
        return Err(CompileError::Calibration("0 samples asked for".into()));
    }
    check_finite(g, inputs, samples)?;
    let mut program = lower(g)?;
    reuse_in_place(&mut program);
    // Calibration needs every activation intact after its operator: no in-place reuse
    // changes what the observer sees, since it reads each output right after it is written.
    let memory = plan(&program);
    let artifact =
        crate::artifact::write(&program, &memory, "generic").map_err(CompileError::Options)?;
    let mut stats: HashMap<ValueId, TensorStats> = HashMap::new();
    let progress = crate::progress::bar(
        samples as u64 * if needs_histogram(method) { 2 } else { 1 },
        "calibrating",
    );
    each_sample(
        &program,
        &artifact,
        g,
        inputs,
        samples,
        &progress,
        |v, x| {
            stats.entry(v).or_default().observe_range(x);
        },
    )?;
    if needs_histogram(method) {
        each_sample(
            &program,
            &artifact,
            g,
            inputs,
            samples,
            &progress,
            |v, x| {
                if let Some(s) = stats.get_mut(&v) {
                    s.observe_histogram(x);
                }
            },
        )?;
    }
    progress.finish_and_clear();
    Ok(Calibration { stats, samples })
}

fn needs_histogram(method: Method) -> bool {
    matches!(
        method,
        Method::Percentile(_) | Method::Mse | Method::Entropy
    )
}
