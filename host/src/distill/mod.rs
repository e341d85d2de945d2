//! Knowledge distillation: a (pruned) student model is fine-tuned towards a teacher's soft
//! targets, and the trained weights are written back into the student's ONNX graph.
//!
//! [`Student`] builds the student from whittle's imported float IR in candle, its weights as
//! variables; [`teacher::logits`] runs the teacher once over the data with tract;
//! [`train::train`] minimizes [`loss::loss`] (KL at temperature `T`, plus cross-entropy on
//! labels when there are labels) with Adam or SGD; [`Student::to_onnx`] writes the weights
//! back. [`distill`] does all of it.

mod build;
mod error;
mod exec;
pub mod fake_quant;
mod layers;
pub mod loss;
mod optim;
pub mod qat;
mod student;
pub mod teacher;
pub mod train;
mod write;

pub use error::DistillError;
pub use optim::Optimizer;
pub use student::{Param, Student};

use crate::onnx::pb;
use std::path::Path;
use train::Samples;

/// Training options.
#[derive(Debug, Clone, PartialEq)]
pub struct DistillOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Softmax temperature of the KL term.
    pub temperature: f64,
    /// Weight of the KL term; `1 - alpha` goes to cross-entropy on labels.
    pub alpha: f64,
    /// Peak learning rate (it decays to zero along a cosine).
    pub lr: f64,
    /// Samples per step.
    pub batch: usize,
    /// Seed of the shuffling.
    pub seed: u64,
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Quantization-aware training for int8 (`--qat int8`): the student trains as the int8
    /// compilation of its weights will compute.
    pub qat: Option<qat::QatOptions>,
    /// Weights (parameters of rank 2 or more) that are exactly zero stay zero: the sparsity
    /// `whittle prune --sparsity` made survives fine-tuning (`--keep-zeros`).
    pub keep_zeros: bool,
}

impl Default for DistillOptions {
    fn default() -> Self {
        DistillOptions {
            epochs: 10,
            temperature: 4.0,
            alpha: 0.7,
            lr: Optimizer::Adam.default_lr(),
            batch: 64,
            seed: 0,
            optimizer: Optimizer::Adam,
            qat: None,
            keep_zeros: false,
        }
    }
}

impl DistillOptions {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), DistillError> {
        let bad = |s: String| Err(DistillError::Options(s));
        if self.epochs == 0 {
            return bad("--epochs must be at least 1".into());
        }
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return bad(format!(
                "the temperature must be positive, not {}",
                self.temperature
            ));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return bad(format!("alpha must be in [0, 1], not {}", self.alpha));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!(
                "the learning rate must be positive, not {}",
                self.lr
            ));
        }
        if self.batch == 0 {
            return bad("--batch must be at least 1".into());
        }
        if self.qat.as_ref().is_some_and(|q| q.samples == Some(0)) {
            return bad("--calib-samples must be at least 1".into());
        }
        Ok(())
    }
}

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub loss: f64,
    /// Top-1 on the training batches as they were trained (labels needed).
    pub train_top1: Option<f64>,
    /// Top-1 on the validation data after the epoch (labels needed); with quantization-aware
    /// training, that of the fake-quantized (int8) student.
    pub val_top1: Option<f64>,
}

/// Samples for training or validation.
#[derive(Debug, Clone)]
pub struct Data {
    /// Inputs `[N, ...]` (any float or integer type; read as float32).
    pub x: crate::Tensor,
    /// Integer labels, one per sample.
    pub labels: Option<Vec<i64>>,
}

/// A distilled student.
#[derive(Debug, Clone)]
pub struct Distilled {
    /// The student's ONNX model with the trained weights.
    pub model: pb::ModelProto,
    /// One report per epoch.
    pub history: Vec<EpochReport>,
    /// The teacher's top-1 on the training data (labels needed).
    pub teacher_top1: Option<f64>,
    /// The student's validation top-1 before training (validation labels needed).
    pub val_top1_before: Option<f64>,
    /// With quantization-aware training, the activation ranges of the trained weights (the
    /// ones `whittle compile --quantize int8` will find on the same data and method).
    pub int8_ranges: Option<qat::Ranges>,
}

impl Student {
    /// The source model with the current weights in place of the old ones.
    pub fn to_onnx(&self) -> Result<pb::ModelProto, DistillError> {
        write::with_weights(self.model(), self.params())
    }
}

fn samples(
    student: &Student,
    data: &Data,
    x: &[f32],
    what: &str,
) -> Result<(Vec<usize>, usize), DistillError> {
    let dims = data.x.shape.get(1..).unwrap_or(&[]).to_vec();
    let want = &student.input_shape()[1..];
    if dims != want {
        return Err(DistillError::Data(format!(
            "{what} samples have shape {dims:?}, the student takes {want:?} per sample"
        )));
    }
    let n = data.x.shape.first().copied().unwrap_or(0);
    if n == 0 || x.is_empty() {
        return Err(DistillError::Data(format!("{what} data has no samples")));
    }
    if let Some(y) = &data.labels
        && y.len() != n
    {
        return Err(DistillError::Data(format!(
            "{what} data has {n} samples and {} labels",
            y.len()
        )));
    }
    Ok((dims, n))
}

/// Distills `student` from the teacher model at `teacher` on `train`, measuring on `val`
/// after every epoch when given. The student's own variables are trained in place.
pub fn distill(
    student: &Student,
    teacher: &Path,
    train: &Data,
    val: Option<&Data>,
    options: &DistillOptions,
    on_epoch: impl FnMut(&EpochReport),
) -> Result<Distilled, DistillError> {
    options.check()?;
    let x = train.x.to_f32();
    let (dims, _) = samples(student, train, &x, "training")?;
    let (soft, classes) = teacher::logits(teacher, &train.x)?;
    let train_samples = Samples {
        x: &x,
        dims: &dims,
        labels: train.labels.as_deref(),
    };
    // The first batch tells the student's class count; it must be the teacher's.
    let probe = train::predict(
        student,
        &Samples {
            x: &x[..dims.iter().product::<usize>()],
            dims: &dims,
            labels: None,
        },
        1,
    )?;
    if probe.len() != classes {
        return Err(DistillError::Data(format!(
            "the student has {} outputs per sample, the teacher {classes}",
            probe.len()
        )));
    }
    if let Some(y) = &train.labels
        && let Some(bad) = y.iter().find(|&&v| v < 0 || v as usize >= classes)
    {
        return Err(DistillError::Data(format!(
            "label {bad} is outside the {classes} classes"
        )));
    }
    let teacher_top1 = train.labels.as_deref().map(|y| train::top1(&soft, y));
    let val_x = val.map(|v| v.x.to_f32());
    let val_dims = match (val, &val_x) {
        (Some(v), Some(vx)) => Some(samples(student, v, vx, "validation")?.0),
        _ => None,
    };
    let val_samples = match (val, &val_x, &val_dims) {
        (Some(v), Some(vx), Some(d)) => Some(Samples {
            x: vx,
            dims: d,
            labels: v.labels.as_deref(),
        }),
        _ => None,
    };
    let val_top1_before = match &val_samples {
        Some(s) => s
            .labels
            .map(|y| train::predict(student, s, 256).map(|l| train::top1(&l, y)))
            .transpose()?,
        None => None,
    };
    let (history, int8_ranges) = train::train(
        student,
        &train_samples,
        &soft,
        classes,
        val_samples.as_ref(),
        options,
        on_epoch,
    )?;
    Ok(Distilled {
        model: student.to_onnx()?,
        history,
        teacher_top1,
        val_top1_before,
        int8_ranges,
    })
}
