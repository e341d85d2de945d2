//! The training loop: seeded shuffling, mini-batches, the distillation loss, a cosine
//! learning-rate schedule, and one report per epoch.

use super::error::DistillError;
use super::loss;
use super::optim::State;
use super::qat::{self, Ranges};
use super::student::Student;
use super::{DistillOptions, EpochReport};
use candle_core::{DType, Tensor, Var};

/// SplitMix64: a small seeded generator, so a seed gives the same order on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Rows `ids` of a row-major `[N, per_row]` buffer as a `[ids.len(), dims...]` tensor.
pub fn gather_rows(
    data: &[f32],
    dims: &[usize],
    ids: &[usize],
    student: &Student,
) -> candle_core::Result<Tensor> {
    let per_row: usize = dims.iter().product();
    let mut rows = Vec::with_capacity(ids.len() * per_row);
    for &i in ids {
        rows.extend_from_slice(&data[i * per_row..(i + 1) * per_row]);
    }
    let mut shape = vec![ids.len()];
    shape.extend_from_slice(dims);
    Tensor::from_vec(rows, shape, student.device())?.to_dtype(student.dtype())
}

/// Number of rows whose largest logit is at the label.
fn hits(logits: &Tensor, labels: &[i64]) -> candle_core::Result<usize> {
    let pred = logits.argmax(1)?.to_vec1::<u32>()?;
    Ok(pred
        .iter()
        .zip(labels)
        .filter(|(p, y)| **p as i64 == **y)
        .count())
}

/// Samples: inputs `[N, ...]` as floats, their shape after the batch axis, optional labels.
pub struct Samples<'a> {
    /// Row-major inputs.
    pub x: &'a [f32],
    /// Dimensions of one sample.
    pub dims: &'a [usize],
    /// Integer labels, one per sample.
    pub labels: Option<&'a [i64]>,
}

impl Samples<'_> {
    fn len(&self) -> usize {
        self.x.len() / self.dims.iter().product::<usize>().max(1)
    }
}

/// Logits of `student` for every sample, `[N, classes]` row-major, in batches of `batch`.
pub fn predict(student: &Student, s: &Samples<'_>, batch: usize) -> Result<Vec<f32>, DistillError> {
    predict_with(student, s, batch, None)
}

/// Like [`predict`]; with `int8` ranges, the fake-quantized logits
/// ([`Student::forward_int8`]).
pub fn predict_with(
    student: &Student,
    s: &Samples<'_>,
    batch: usize,
    int8: Option<&Ranges>,
) -> Result<Vec<f32>, DistillError> {
    let mut out = Vec::new();
    let ids: Vec<usize> = (0..s.len()).collect();
    for chunk in ids.chunks(batch.max(1)) {
        let x = gather_rows(s.x, s.dims, chunk, student)?;
        let y = match int8 {
            Some(r) => student.forward_int8(&x, r)?,
            None => student.forward(&x)?,
        };
        let y = y.to_dtype(DType::F32)?;
        out.extend(y.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

/// Top-1 of `logits` (`[N, classes]`) against `labels`.
pub fn top1(logits: &[f32], labels: &[i64]) -> f64 {
    let classes = logits.len() / labels.len().max(1);
    let right = logits
        .chunks(classes.max(1))
        .zip(labels)
        .filter(|(row, y)| {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            best.0 as i64 == **y
        })
        .count();
    right as f64 / labels.len().max(1) as f64
}

/// Trains `student` towards `teacher` logits (`[N, classes]`) on `train`; `val` is measured
/// after every epoch when given. `on_epoch` sees each report as it is made.
///
/// With `options.qat`, the student runs fake-quantized ([`Student::forward_int8`]) on
/// activation ranges calibrated on the training inputs before the first epoch and
/// again after every epoch, so that each epoch trains, and each validation measures, the
/// int8 model of the weights as they are; the last ranges are returned.
pub fn train(
    student: &Student,
    train: &Samples<'_>,
    teacher: &[f32],
    classes: usize,
    val: Option<&Samples<'_>>,
    options: &DistillOptions,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<(Vec<EpochReport>, Option<Ranges>), DistillError> {
    let calib = options.qat.as_ref().map(|_| {
        let mut shape = vec![train.len()];
        shape.extend_from_slice(train.dims);
        crate::Tensor::f32(shape, train.x.to_vec())
    });
    let calibrate = || -> Result<Option<Ranges>, DistillError> {
        options
            .qat
            .as_ref()
            .zip(calib.as_ref())
            .map(|(q, c)| qat::ranges(student, c, q))
            .transpose()
    };
    let mut int8 = calibrate()?;
    let vars: Vec<Var> = student.params().iter().map(|p| p.var.clone()).collect();
    let mut state = State::new(options.optimizer, &vars)?;
    let zero_masks = if options.keep_zeros {
        zero_masks(&vars)?
    } else {
        Vec::new()
    };
    let n = train.len();
    let batch = options.batch.max(1);
    let steps_per_epoch = n.div_ceil(batch);
    let total = (options.epochs * steps_per_epoch).max(1) as f64;
    let mut rng = Rng(options.seed);
    let mut order: Vec<usize> = (0..n).collect();
    let dev = student.device().clone();
    let mut reports = Vec::with_capacity(options.epochs);
    for epoch in 0..options.epochs {
        rng.shuffle(&mut order);
        let (mut loss_sum, mut right) = (0.0f64, 0usize);
        for (b, ids) in order.chunks(batch).enumerate() {
            let x = gather_rows(train.x, train.dims, ids, student)?;
            let t = gather_rows(teacher, &[classes], ids, student)?;
            let labels: Option<Vec<i64>> =
                train.labels.map(|y| ids.iter().map(|&i| y[i]).collect());
            let y = labels
                .as_ref()
                .map(|l| Tensor::new(l.iter().map(|&v| v as u32).collect::<Vec<_>>(), &dev))
                .transpose()?;
            let logits = match &int8 {
                Some(r) => student.forward_int8(&x, r)?,
                None => student.forward(&x)?,
            };
            let loss = loss::loss(&logits, &t, y.as_ref(), options.temperature, options.alpha)?;
            let grads = loss.backward()?;
            // Cosine decay from the given rate to zero over the whole run.
            let progress = (epoch * steps_per_epoch + b) as f64 / total;
            let lr = options.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
            state.step(&vars, &grads, lr)?;
            for (v, mask) in vars.iter().zip(&zero_masks) {
                if let Some(mask) = mask {
                    v.set(&(v.as_tensor() * mask)?)?;
                }
            }
            loss_sum += loss.to_dtype(DType::F64)?.to_scalar::<f64>()? * ids.len() as f64;
            if let Some(l) = &labels {
                right += hits(&logits, l)?;
            }
        }
        if int8.is_some() {
            int8 = calibrate()?;
        }
        let val_top1 = match val {
            Some(v) => v
                .labels
                .map(|y| {
                    predict_with(student, v, batch.max(256), int8.as_ref()).map(|l| top1(&l, y))
                })
                .transpose()?,
            None => None,
        };
        let report = EpochReport {
            epoch: epoch + 1,
            loss: loss_sum / n.max(1) as f64,
            train_top1: train.labels.map(|_| right as f64 / n.max(1) as f64),
            val_top1,
        };
        on_epoch(&report);
        reports.push(report);
    }
    Ok((reports, int8))
}

/// For each weight (rank 2 or more) holding exact zeros, a mask that is 0 there and 1
/// elsewhere; `None` for the other parameters, which train freely.
fn zero_masks(vars: &[Var]) -> candle_core::Result<Vec<Option<Tensor>>> {
    vars.iter()
        .map(|v| {
            let t = v.as_tensor();
            if t.rank() < 2 {
                return Ok(None);
            }
            let mask = t.ne(0f32)?.to_dtype(t.dtype())?;
            let kept = mask.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            Ok((kept < t.elem_count() as f64).then_some(mask))
        })
        .collect()
}
