//! Sensitivity analysis: each group pruned alone at several ratios, the model compiled and run
//! through the runtime on the data, and the drop of the metric recorded. Layers whose metric
//! barely moves can be pruned harder.

use super::{Analysis, PruneError, Scores};
use crate::compile::{CompileOptions, compile};
use crate::onnx::pb;
use crate::run::Runner;
use crate::tensor::Tensor;
use serde::Serialize;
use std::path::Path;

/// Ratios tried when none are given.
pub const DEFAULT_RATIOS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// Samples to measure on.
#[derive(Debug, Clone)]
pub struct EvalData {
    /// One tensor per model input, leading dimension = samples.
    pub inputs: Vec<Tensor>,
    /// Class labels, when the data has them.
    pub labels: Option<Vec<i64>>,
}

/// Measures models on [`EvalData`]: top-1 accuracy against the labels, or without labels the
/// share of samples whose top-1 class agrees with the unpruned model's.
#[derive(Debug)]
pub struct Evaluator<'a> {
    data: &'a EvalData,
    options: &'a CompileOptions,
    dir: Option<&'a Path>,
    reference: Vec<usize>,
}

fn argmax_rows(values: &[f32], width: usize) -> Vec<usize> {
    values
        .chunks(width.max(1))
        .map(|row| crate::metrics::top_k(row, 1).first().copied().unwrap_or(0))
        .collect()
}

impl<'a> Evaluator<'a> {
    /// An evaluator whose reference is `baseline` (the unpruned model).
    pub fn new(
        baseline: &pb::ModelProto,
        dir: Option<&'a Path>,
        data: &'a EvalData,
        options: &'a CompileOptions,
    ) -> Result<Self, PruneError> {
        let mut e = Evaluator {
            data,
            options,
            dir,
            reference: Vec::new(),
        };
        e.reference = e.top1(baseline, "the baseline")?;
        Ok(e)
    }

    /// Name of the metric.
    pub fn metric(&self) -> &'static str {
        if self.data.labels.is_some() {
            "top1"
        } else {
            "agreement"
        }
    }

    /// Number of samples.
    pub fn samples(&self) -> usize {
        self.reference.len()
    }

    fn top1(&self, model: &pb::ModelProto, what: &str) -> Result<Vec<usize>, PruneError> {
        let err = |reason: String| PruneError::Evaluate {
            what: what.to_string(),
            reason,
        };
        let compiled = compile(model, self.dir, self.options).map_err(|e| err(e.to_string()))?;
        let mut runner = Runner::new(&compiled.artifact).map_err(|e| err(e.to_string()))?;
        let outputs = runner
            .run(&self.data.inputs)
            .map_err(|e| err(e.to_string()))?;
        let first = outputs
            .first()
            .ok_or_else(|| err("the model has no output".into()))?;
        let width = *first.shape.last().unwrap_or(&1);
        Ok(argmax_rows(&first.to_f32(), width))
    }

    /// The metric of `model` (0..1); `what` names it in errors.
    pub fn measure(&self, model: &pb::ModelProto, what: &str) -> Result<f64, PruneError> {
        let predicted = self.top1(model, what)?;
        let truth: Vec<usize> = match &self.data.labels {
            Some(labels) => labels.iter().map(|&l| l.max(0) as usize).collect(),
            None => self.reference.clone(),
        };
        let hits = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
        Ok(hits as f64 / predicted.len().max(1) as f64)
    }
}

/// One measurement of a group at one ratio.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// Share of the group's channels asked to be removed.
    pub ratio: f64,
    /// Channels the group keeps (after rounding).
    pub channels_kept: usize,
    /// MACs of the model, as a share of the unpruned model's.
    pub macs_share: f64,
    /// The metric (0..1).
    pub metric: f64,
    /// Baseline metric minus this one.
    pub drop: f64,
}

/// The sweep of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSensitivity {
    /// Group name (its source nodes).
    pub group: String,
    /// Channels of the group.
    pub channels: usize,
    /// Channels that may be removed.
    pub prunable: usize,
    /// One point per ratio (ratios that leave the channel count unchanged are skipped).
    pub points: Vec<Point>,
}

/// The report written as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct SensitivityReport {
    /// `top1` (against labels) or `agreement` (with the unpruned model).
    pub metric: String,
    /// Metric of the unpruned model.
    pub baseline: f64,
    /// Samples measured.
    pub samples: usize,
    /// Importance criterion that chose the channels.
    pub criterion: String,
    /// Channel counts are multiples of this.
    pub round_to: usize,
    /// MACs of the unpruned model.
    pub macs: u64,
    /// Per group.
    pub groups: Vec<GroupSensitivity>,
}

/// Prunes each group alone at each of `ratios` and measures the result with `evaluator`.
/// `progress` is called after each measurement.
pub fn sensitivity(
    analysis: &Analysis,
    scores: &Scores,
    criterion: super::Criterion,
    evaluator: &Evaluator<'_>,
    ratios: &[f64],
    round_to: usize,
    mut progress: impl FnMut(),
) -> Result<SensitivityReport, PruneError> {
    let baseline = evaluator.measure(&analysis.model, "the baseline")?;
    let base_macs = analysis.baseline_macs().max(1) as f64;
    let mut groups = Vec::new();
    for (k, group) in analysis.groups().iter().enumerate() {
        let mut points = Vec::new();
        let mut last_kept = group.channels();
        for &ratio in ratios {
            let selection = analysis.select_group(scores, k, ratio, round_to);
            let kept = analysis.kept_channels(&selection)[k];
            if kept == last_kept {
                progress();
                continue;
            }
            last_kept = kept;
            let model = analysis.apply(&selection)?;
            let what = format!("group '{}' ratio {ratio}", group.name);
            let metric = evaluator.measure(&model, &what)?;
            points.push(Point {
                ratio,
                channels_kept: kept,
                macs_share: analysis.macs(&selection) as f64 / base_macs,
                metric,
                drop: baseline - metric,
            });
            progress();
        }
        groups.push(GroupSensitivity {
            group: group.name.clone(),
            channels: group.channels(),
            prunable: group.prunable(),
            points,
        });
    }
    Ok(SensitivityReport {
        metric: evaluator.metric().to_string(),
        baseline,
        samples: evaluator.samples(),
        criterion: criterion.name().to_string(),
        round_to,
        macs: analysis.baseline_macs(),
        groups,
    })
}
