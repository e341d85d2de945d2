//! The float stages before quantization: prune whole channels, then distill the pruned model
//! from the original on the calibration data. Each step's model is measured and gated by the
//! caller like any stage.

use super::config::{DistillSection, PipelineConfig, PruneSection};
use super::evaluate::Dataset;
use super::{PipelineError, input};
use crate::distill::qat::{QatOptions, parse_scheme};
use crate::distill::{Data, DistillOptions, Optimizer, Student, distill};
use crate::import::ImportOptions;
use crate::onnx::pb;
use crate::prune::sensitivity::EvalData;
use crate::prune::{Amount, Analysis, Criterion, PruneOptions, Scope};
use crate::quantize::Method;

/// Samples the Taylor criterion measures on (as `whittle prune`'s default).
const TAYLOR_SAMPLES: usize = 256;
use prost::Message;
use std::path::Path;

/// One float model a compression step produced.
pub struct Step {
    /// `prune` or `distill`.
    pub name: String,
    /// The model after the step.
    pub model: pb::ModelProto,
}

/// What compression produced: every step's model (the last is the one to quantize), the
/// MACs before and after, and the last model written to a file for tract-based comparisons.
pub struct Compressed {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// MACs of the original model.
    pub macs_before: u64,
    /// MACs after pruning.
    pub macs_after: u64,
    /// The final model, as an ONNX file (removed when dropped).
    pub file: tempfile::NamedTempFile,
}

impl Compressed {
    /// The model to quantize.
    pub fn model(&self) -> &pb::ModelProto {
        // `compress` returns a value only with at least one step.
        &self.steps[self.steps.len() - 1].model
    }
}

/// Runs the `[prune]` and `[distill]` stages the file configures; `None` when neither is.
/// Pruned channel counts are multiples of `channel_multiple` (the target's) unless the file
/// says otherwise.
pub fn compress(
    cfg: &PipelineConfig,
    model: &pb::ModelProto,
    import: &ImportOptions,
    train: &Dataset,
    channel_multiple: u32,
) -> Result<Option<Compressed>, PipelineError> {
    let dir = cfg.model.path.parent();
    let mut steps = Vec::new();
    let analysis = Analysis::new(model, dir, import).map_err(|e| input(format!("prune: {e}")))?;
    let macs_before = analysis.baseline_macs();
    let mut macs_after = macs_before;
    if let Some(p) = &cfg.prune {
        let options = prune_options(p, channel_multiple)?;
        // Taylor importance is measured on the calibration data (its first 256 samples).
        let data = EvalData {
            inputs: train.inputs.clone(),
            labels: train.labels.as_ref().map(|t| t.to_i64()),
        };
        let pruned = analysis
            .scores_on(options.criterion, Some(&data), TAYLOR_SAMPLES)
            .and_then(|scores| analysis.prune_with(&scores, &options))
            .map_err(|e| input(format!("prune: {e}")))?;
        macs_after = pruned.macs_after;
        steps.push(Step {
            name: "prune".into(),
            model: pruned.model,
        });
    }
    if let Some(d) = &cfg.distill {
        let student_model = steps.last().map_or(model, |s| &s.model);
        let student =
            Student::new(student_model, dir, import).map_err(|e| input(format!("distill: {e}")))?;
        let data = training_data(train)?;
        let distilled = distill(
            &student,
            &cfg.model.path,
            &data,
            None,
            &distill_options(d, cfg)?,
            |_| {},
        )
        .map_err(|e| input(format!("distill: {e}")))?;
        steps.push(Step {
            name: "distill".into(),
            model: distilled.model,
        });
    }
    let Some(last) = steps.last() else {
        return Ok(None);
    };
    let file = write_model(&last.model, dir)?;
    Ok(Some(Compressed {
        steps,
        macs_before,
        macs_after,
        file,
    }))
}

fn prune_options(p: &PruneSection, channel_multiple: u32) -> Result<PruneOptions, PipelineError> {
    let criterion = Criterion::parse(&p.criterion).map_err(|e| input(format!("prune: {e}")))?;
    let amount = match (p.ratio, p.target_macs) {
        (Some(r), None) => Amount::Ratio(r),
        (None, Some(t)) => Amount::TargetMacs(t),
        _ => {
            return Err(input(
                "prune: give exactly one of ratio (share of channels to remove) or target_macs (share of MACs to keep)",
            ));
        }
    };
    let amount = amount.check().map_err(|e| input(format!("prune: {e}")))?;
    Ok(PruneOptions {
        criterion,
        amount,
        scope: if p.global {
            Scope::Global
        } else {
            Scope::PerGroup
        },
        round_to: p.round_to.unwrap_or(channel_multiple as usize).max(1),
    })
}

fn distill_options(
    d: &DistillSection,
    cfg: &PipelineConfig,
) -> Result<DistillOptions, PipelineError> {
    let optimizer = Optimizer::parse(&d.optimizer).map_err(|e| input(format!("distill: {e}")))?;
    // The ranges QAT trains on are the ones the quantize stage will calibrate.
    let qat = match &d.qat {
        Some(scheme) => {
            parse_scheme(scheme).map_err(|e| input(format!("distill.qat: {e}")))?;
            let method = match &cfg.quantize {
                Some(q) => Method::parse(&q.calibration)
                    .map_err(|e| input(format!("quantize.calibration: {e}")))?,
                None => QatOptions::default().method,
            };
            Some(QatOptions {
                method,
                samples: cfg.data.calibration_samples,
            })
        }
        None => None,
    };
    let options = DistillOptions {
        epochs: d.epochs,
        temperature: d.temperature,
        alpha: d.alpha,
        lr: d.lr.unwrap_or(optimizer.default_lr()),
        batch: d.batch,
        seed: cfg.seed,
        optimizer,
        qat,
        keep_zeros: false,
    };
    options
        .check()
        .map_err(|e| input(format!("distill: {e}")))?;
    Ok(options)
}

/// The calibration data as distillation's training set: one input, labels when present.
fn training_data(train: &Dataset) -> Result<Data, PipelineError> {
    let [x] = train.inputs.as_slice() else {
        return Err(input(format!(
            "distill: the model must have one input, it has {}",
            train.inputs.len()
        )));
    };
    Ok(Data {
        x: x.clone(),
        labels: train.labels.as_ref().map(|t| t.to_i64()),
    })
}

/// Writes `model` to a temporary ONNX file next to the original (so relative external data
/// still resolves).
fn write_model(
    model: &pb::ModelProto,
    dir: Option<&Path>,
) -> Result<tempfile::NamedTempFile, PipelineError> {
    let dir = dir
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".whittle-compressed-")
        .suffix(".onnx")
        .tempfile_in(dir)
        .or_else(|_| tempfile::Builder::new().suffix(".onnx").tempfile())
        .map_err(|e| input(format!("writing the compressed model: {e}")))?;
    std::io::Write::write_all(&mut file, &model.encode_to_vec())
        .map_err(|e| input(format!("writing the compressed model: {e}")))?;
    Ok(file)
}
