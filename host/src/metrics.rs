//! Accuracy and agreement metrics over classifier outputs and layer activations.

use serde::Serialize;

/// Indices of the `k` largest scores, best first (ties: lower index first).
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}

/// Accuracy of one class.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassAccuracy {
    /// Class index.
    pub class: usize,
    /// Samples with this label.
    pub samples: usize,
    /// Fraction of them whose top-1 prediction is the label.
    pub top1: f64,
}

/// Classification accuracy over a data set.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Accuracy {
    /// Samples evaluated.
    pub samples: usize,
    /// Top-1 accuracy (0..1).
    pub top1: f64,
    /// Top-5 accuracy (0..1; equals 1 with five classes or fewer).
    pub top5: f64,
    /// Per class, for the classes present in the labels.
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[label][prediction]` counts.
    pub confusion: Vec<Vec<usize>>,
}

/// Accuracy of `scores` (`[samples][classes]`, row-major) against `labels`.
pub fn accuracy(scores: &[f32], classes: usize, labels: &[i64]) -> Result<Accuracy, String> {
    if classes == 0 || scores.len() != labels.len() * classes {
        return Err(format!(
            "{} scores for {} labels of {classes} classes",
            scores.len(),
            labels.len()
        ));
    }
    if let Some((sample, bad)) = labels
        .iter()
        .enumerate()
        .find(|&(_, &l)| l < 0 || l as usize >= classes)
    {
        return Err(format!(
            "label {bad} of sample {sample} is outside the model's {classes} classes (0 to {})",
            classes - 1
        ));
    }
    let mut confusion = vec![vec![0usize; classes]; classes];
    let (mut top1, mut top5) = (0usize, 0usize);
    for (row, &label) in scores.chunks(classes).zip(labels) {
        let best = top_k(row, 5);
        let label = label as usize;
        confusion[label][best[0]] += 1;
        top1 += usize::from(best[0] == label);
        top5 += usize::from(best.contains(&label));
    }
    let n = labels.len().max(1) as f64;
    let per_class = (0..classes)
        .filter_map(|c| {
            let samples: usize = confusion[c].iter().sum();
            (samples > 0).then(|| ClassAccuracy {
                class: c,
                samples,
                top1: confusion[c][c] as f64 / samples as f64,
            })
        })
        .collect();
    Ok(Accuracy {
        samples: labels.len(),
        top1: top1 as f64 / n,
        top5: top5 as f64 / n,
        per_class,
        confusion,
    })
}

/// `softmax(x)` (for outputs that are logits).
pub fn softmax(x: &[f32]) -> Vec<f64> {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = x.iter().map(|&v| f64::from(v - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    e.iter().map(|v| v / sum).collect()
}

/// Whether a row already is a probability distribution (non-negative, sums to ~1).
pub fn is_distribution(x: &[f32]) -> bool {
    x.iter().all(|&v| v >= 0.0) && (x.iter().map(|&v| f64::from(v)).sum::<f64>() - 1.0).abs() < 1e-2
}

/// KL(p || q) in nats, with `q` floored at 1e-10.
pub fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    p.iter()
        .zip(q)
        .filter(|(pv, _)| **pv > 0.0)
        .map(|(pv, qv)| pv * (pv / qv.max(1e-10)).ln())
        .sum::<f64>()
        // Rounding can leave a tiny negative sum for equal distributions.
        .max(0.0)
}

/// Signal-to-quantization-noise ratio of `test` against `reference`, in dB.
pub fn sqnr_db(reference: &[f32], test: &[f32]) -> f64 {
    let signal: f64 = reference.iter().map(|&v| f64::from(v).powi(2)).sum();
    let noise: f64 = reference
        .iter()
        .zip(test)
        .map(|(&r, &t)| f64::from(r - t).powi(2))
        .sum();
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (signal / noise.max(f64::MIN_POSITIVE)).log10()
    }
}

/// Error statistics of `test` against `reference`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorStats {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Largest absolute error.
    pub max: f64,
    /// Pearson correlation.
    pub correlation: f64,
}

/// MAE, RMSE, max error and correlation.
pub fn errors(reference: &[f32], test: &[f32]) -> ErrorStats {
    let n = reference.len().max(1) as f64;
    let (mut abs, mut sq, mut max) = (0.0, 0.0, 0.0f64);
    for (&r, &t) in reference.iter().zip(test) {
        let d = f64::from(r - t).abs();
        abs += d;
        sq += d * d;
        max = max.max(d);
    }
    let mean = |x: &[f32]| x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (mr, mt) = (mean(reference), mean(test));
    let (mut cov, mut vr, mut vt) = (0.0, 0.0, 0.0);
    for (&r, &t) in reference.iter().zip(test) {
        let (a, b) = (f64::from(r) - mr, f64::from(t) - mt);
        cov += a * b;
        vr += a * a;
        vt += b * b;
    }
    let correlation = if vr > 0.0 && vt > 0.0 {
        cov / (vr * vt).sqrt()
    } else if vr == vt {
        1.0
    } else {
        0.0
    };
    ErrorStats {
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        max,
        correlation,
    }
}

/// The `p`-th percentile (0..=100) of `values` (nearest rank).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracy_counts_top1_top5_and_classes() {
        let scores = [0.9, 0.1, 0.0, 0.2, 0.7, 0.1, 0.3, 0.3, 0.4];
        let acc = accuracy(&scores, 3, &[0, 1, 1]).unwrap();
        assert_eq!(acc.samples, 3);
        assert!((acc.top1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(acc.top5, 1.0);
        assert_eq!(
            acc.per_class,
            vec![
                ClassAccuracy {
                    class: 0,
                    samples: 1,
                    top1: 1.0
                },
                ClassAccuracy {
                    class: 1,
                    samples: 2,
                    top1: 0.5
                }
            ]
        );
        assert_eq!(acc.confusion[1], vec![0, 1, 1]);
        assert!(
            accuracy(&scores, 3, &[0, 1, 3])
                .unwrap_err()
                .contains("label 3")
        );
    }

    #[test]
    fn divergences_and_noise() {
        assert_eq!(kl_divergence(&[0.5, 0.5], &[0.5, 0.5]), 0.0);
        assert!(kl_divergence(&[0.9, 0.1], &[0.5, 0.5]) > 0.3);
        assert_eq!(sqnr_db(&[1.0, 2.0], &[1.0, 2.0]), f64::INFINITY);
        assert!((sqnr_db(&[10.0], &[9.0]) - 20.0).abs() < 1e-9);
        let e = errors(&[1.0, 2.0, 3.0], &[1.0, 2.5, 3.0]);
        assert!((e.max - 0.5).abs() < 1e-12 && e.correlation > 0.9);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), 2.0);
    }
}
