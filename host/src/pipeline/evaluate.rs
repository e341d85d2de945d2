//! Measuring one artifact on the pipeline's data against the float baseline: accuracy (overall,
//! per class, per segment), distribution shift, output errors, edge cases, size and latency.

use crate::metrics::{self, Accuracy, ErrorStats};
use crate::run::Runner;
use crate::tensor::Tensor;
use serde::Serialize;

/// Labelled samples with optional segments.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// One tensor per model input, leading dimension = samples.
    pub inputs: Vec<Tensor>,
    /// Class labels (classification) or target values.
    pub labels: Option<Tensor>,
    /// Segment of each sample.
    pub segments: Option<Vec<i64>>,
    /// Number of samples.
    pub samples: usize,
}

/// What running an artifact on a data set gave.
#[derive(Debug, Clone)]
pub struct Outputs {
    /// The first output, flattened: `samples * width` values.
    pub values: Vec<f32>,
    /// Values per sample.
    pub width: usize,
    /// Per-inference times, in milliseconds.
    pub latency_ms: Vec<f64>,
}

/// Runs `artifact` on every sample of `inputs`.
pub fn run(artifact: &[u8], inputs: &[Tensor], samples: usize) -> Result<Outputs, String> {
    let mut runner = Runner::new(artifact).map_err(|e| e.to_string())?;
    let out = runner.run(inputs).map_err(|e| e.to_string())?;
    let first = out.first().ok_or("the model has no output")?;
    let values = first.to_f32();
    let width = values.len() / samples.max(1);
    Ok(Outputs {
        values,
        width,
        latency_ms: runner
            .invoke_times()
            .iter()
            .map(|d| d.as_secs_f64() * 1e3)
            .collect(),
    })
}

/// Top-1 accuracy of one segment or class, and its drop from the baseline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupAccuracy {
    /// Segment or class number.
    pub id: i64,
    /// Its name, when the pipeline file gives one.
    pub name: String,
    /// Samples in the group.
    pub samples: usize,
    /// Top-1 accuracy (0..1).
    pub top1: f64,
    /// Baseline top-1 minus this top-1.
    pub drop: f64,
}

/// Accuracy-type metrics of a classifier.
#[derive(Debug, Clone, Serialize)]
pub struct Classification {
    /// Top-1 accuracy.
    pub top1: f64,
    /// Top-k accuracy.
    pub topk: f64,
    /// The k of `topk`.
    pub k: usize,
    /// Baseline top-1 minus this top-1.
    pub top1_drop: f64,
    /// Baseline top-k minus this top-k.
    pub topk_drop: f64,
    /// Per class.
    pub classes: Vec<GroupAccuracy>,
    /// Per segment (empty without segments).
    pub segments: Vec<GroupAccuracy>,
    /// `confusion[label][prediction]`.
    pub confusion: Vec<Vec<usize>>,
}

/// Edge cases whose prediction changed.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeCases {
    /// Edge cases run.
    pub samples: usize,
    /// Indices of those whose top-1 (or, for regression, rounded output) differs from the
    /// baseline's.
    pub changed: Vec<usize>,
}

/// Everything measured about one artifact.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// Validation samples.
    pub samples: usize,
    /// Classifier metrics (when the task is classification and labels exist).
    pub classification: Option<Classification>,
    /// Fraction of samples whose top-1 class is the baseline's.
    pub agreement: f64,
    /// Mean KL divergence of the output distribution from the baseline's (nats).
    pub kl_mean: f64,
    /// 95th percentile of that KL divergence.
    pub kl_p95: f64,
    /// Output errors against the baseline's outputs.
    pub output_errors: ErrorStats,
    /// Output errors against the labels (regression with target values).
    pub label_errors: Option<ErrorStats>,
    /// Edge cases, when given.
    pub edge_cases: Option<EdgeCases>,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Artifact bytes (flash).
    pub flash_bytes: u64,
    /// Arena bytes (RAM for activations).
    pub ram_bytes: u64,
    /// Median host latency per inference, in milliseconds.
    pub latency_ms_median: f64,
    /// 90th percentile of the host latency.
    pub latency_ms_p90: f64,
}

/// Names for groups: `names[id]` when given, else the number.
pub type Names<'a> = &'a dyn Fn(i64) -> String;

/// The fixed inputs of [`measure`].
pub struct Context<'a> {
    /// Validation data.
    pub data: &'a Dataset,
    /// The baseline's outputs on it.
    pub baseline: &'a Outputs,
    /// The baseline's classification metrics (none for the baseline itself).
    pub baseline_classification: Option<&'a Classification>,
    /// k of top-k.
    pub k: usize,
    /// Whether outputs are class scores.
    pub classification: bool,
    /// Class names.
    pub class_name: Names<'a>,
    /// Segment names.
    pub segment_name: Names<'a>,
}

fn distribution(row: &[f32]) -> Vec<f64> {
    if metrics::is_distribution(row) {
        row.iter().map(|&v| f64::from(v)).collect()
    } else {
        metrics::softmax(row)
    }
}

fn top1(row: &[f32]) -> usize {
    metrics::top_k(row, 1).first().copied().unwrap_or(0)
}

fn group_accuracy(
    rows: &[&[f32]],
    labels: &[i64],
    groups: &[i64],
    baseline: Option<&[GroupAccuracy]>,
    name: Names<'_>,
) -> Vec<GroupAccuracy> {
    let mut ids: Vec<i64> = groups.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let members: Vec<usize> = (0..groups.len()).filter(|&i| groups[i] == id).collect();
            let right = members
                .iter()
                .filter(|&&i| top1(rows[i]) as i64 == labels[i])
                .count();
            let acc = right as f64 / members.len().max(1) as f64;
            let base = baseline
                .and_then(|b| b.iter().find(|g| g.id == id))
                .map_or(acc, |g| g.top1);
            GroupAccuracy {
                id,
                name: name(id),
                samples: members.len(),
                top1: acc,
                drop: base - acc,
            }
        })
        .collect()
}

fn classify(
    ctx: &Context<'_>,
    rows: &[&[f32]],
    width: usize,
    labels: &[i64],
) -> Result<Classification, String> {
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    let acc: Accuracy = metrics::accuracy(&flat, width, labels)?;
    let k = ctx.k.min(width).max(1);
    let topk = rows
        .iter()
        .zip(labels)
        .filter(|(r, l)| metrics::top_k(r, k).contains(&(**l as usize)))
        .count() as f64
        / labels.len().max(1) as f64;
    let base = ctx.baseline_classification;
    let classes = group_accuracy(
        rows,
        labels,
        labels,
        base.map(|b| b.classes.as_slice()),
        ctx.class_name,
    );
    let segments = match &ctx.data.segments {
        Some(seg) => group_accuracy(
            rows,
            labels,
            seg,
            base.map(|b| b.segments.as_slice()),
            ctx.segment_name,
        ),
        None => Vec::new(),
    };
    Ok(Classification {
        top1: acc.top1,
        topk,
        k,
        top1_drop: base.map_or(0.0, |b| b.top1 - acc.top1),
        topk_drop: base.map_or(0.0, |b| b.topk - topk),
        classes,
        segments,
        confusion: acc.confusion,
    })
}

/// Measures `outputs` (of the artifact `artifact`) against the baseline; `edge` gives the
/// baseline's and this artifact's outputs on the edge cases.
pub fn measure(
    ctx: &Context<'_>,
    artifact: &[u8],
    outputs: &Outputs,
    edge: Option<(&Outputs, &Outputs)>,
) -> Result<Metrics, String> {
    let n = ctx.data.samples;
    let width = outputs.width.max(1);
    if outputs.width != ctx.baseline.width || outputs.values.len() != ctx.baseline.values.len() {
        return Err(format!(
            "the compressed model gives {} values per sample, the baseline {}",
            outputs.width, ctx.baseline.width
        ));
    }
    let rows: Vec<&[f32]> = outputs.values.chunks(width).collect();
    let base_rows: Vec<&[f32]> = ctx.baseline.values.chunks(width).collect();
    let classification = match (&ctx.data.labels, ctx.classification) {
        (Some(labels), true) => Some(classify(ctx, &rows, width, &labels.to_i64())?),
        _ => None,
    };
    let agreement = rows
        .iter()
        .zip(&base_rows)
        .filter(|(a, b)| top1(a) == top1(b))
        .count() as f64
        / n.max(1) as f64;
    let kl: Vec<f64> = rows
        .iter()
        .zip(&base_rows)
        .map(|(r, b)| metrics::kl_divergence(&distribution(b), &distribution(r)))
        .collect();
    let label_errors = match (&ctx.data.labels, ctx.classification) {
        (Some(labels), false) => {
            let target = labels.to_f32();
            (target.len() == outputs.values.len())
                .then(|| metrics::errors(&target, &outputs.values))
        }
        _ => None,
    };
    let edge_cases = edge.map(|(base, test)| {
        let w = base.width.max(1);
        let changed = base
            .values
            .chunks(w)
            .zip(test.values.chunks(w))
            .enumerate()
            .filter(|(_, (b, t))| {
                if ctx.classification {
                    top1(b) != top1(t)
                } else {
                    b.iter().zip(*t).any(|(x, y)| x.round() != y.round())
                }
            })
            .map(|(i, _)| i)
            .collect();
        EdgeCases {
            samples: base.values.len() / w,
            changed,
        }
    });
    let bytes = whittle_runtime::AlignedBytes::new(artifact);
    let model = whittle_runtime::Model::load(&bytes).map_err(|e| e.to_string())?;
    Ok(Metrics {
        samples: n,
        classification,
        agreement,
        kl_mean: kl.iter().sum::<f64>() / kl.len().max(1) as f64,
        kl_p95: metrics::percentile(&kl, 95.0),
        output_errors: metrics::errors(&ctx.baseline.values, &outputs.values),
        label_errors,
        edge_cases,
        macs: crate::inspect::Summary::of(artifact)
            .map(|summary| summary.macs)
            .unwrap_or(0),
        flash_bytes: artifact.len() as u64,
        ram_bytes: model.arena_bytes() as u64,
        latency_ms_median: metrics::percentile(&outputs.latency_ms, 50.0),
        latency_ms_p90: metrics::percentile(&outputs.latency_ms, 90.0),
    })
}
