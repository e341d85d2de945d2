//! Calibration statistics of one tensor and the clipping range each method derives from them.
//! Activations are quantized asymmetrically to int8 over a range that always contains 0.

use serde::{Deserialize, Serialize};

/// Bins of the calibration histograms.
pub const BINS: usize = 2048;

/// How the clipping range of an activation is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Method {
    /// The smallest and largest value seen.
    MinMax,
    /// The mean over samples of each sample's smallest and largest value.
    AvgMinMax,
    /// The given lower and upper percentiles of all values (e.g. 0.01 and 99.99).
    Percentile(f64),
    /// The range minimizing the expected squared quantization error (clipping + rounding).
    Mse,
    /// The range minimizing the KL divergence between the value distribution and its
    /// quantized version (TensorRT's entropy calibration).
    Entropy,
}

impl Method {
    /// Parses a command-line name: `minmax`, `avg-minmax`, `percentile[:P]`, `mse`, `entropy`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "minmax" => Ok(Method::MinMax),
            "avg-minmax" => Ok(Method::AvgMinMax),
            "mse" => Ok(Method::Mse),
            "entropy" | "kl" => Ok(Method::Entropy),
            "percentile" => Ok(Method::Percentile(99.99)),
            other => match other.strip_prefix("percentile:").map(str::parse::<f64>) {
                Some(Ok(p)) if (50.0..=100.0).contains(&p) => Ok(Method::Percentile(p)),
                _ => Err(format!(
                    "unknown calibration method '{s}' (minmax, avg-minmax, percentile[:P], mse, entropy)"
                )),
            },
        }
    }

    /// The name `parse` accepts.
    pub fn name(&self) -> String {
        match self {
            Method::MinMax => "minmax".into(),
            Method::AvgMinMax => "avg-minmax".into(),
            Method::Percentile(p) => format!("percentile:{p}"),
            Method::Mse => "mse".into(),
            Method::Entropy => "entropy".into(),
        }
    }
}

/// Streaming statistics of one tensor over the calibration samples.
#[derive(Debug, Clone)]
pub struct TensorStats {
    /// Smallest value seen.
    pub min: f32,
    /// Largest value seen.
    pub max: f32,
    /// Sum over samples of each sample's minimum.
    pub sample_min_sum: f64,
    /// Sum over samples of each sample's maximum.
    pub sample_max_sum: f64,
    /// Samples seen.
    pub samples: u64,
    /// Histogram over `[min, max]` (second calibration pass).
    pub counts: Vec<u64>,
}

impl Default for TensorStats {
    fn default() -> Self {
        TensorStats {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            sample_min_sum: 0.0,
            sample_max_sum: 0.0,
            samples: 0,
            counts: Vec::new(),
        }
    }
}

impl TensorStats {
    /// First pass: one sample's values.
    pub fn observe_range(&mut self, values: &[f32]) {
        let finite = values.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if lo > hi {
            return;
        }
        self.min = self.min.min(lo);
        self.max = self.max.max(hi);
        self.sample_min_sum += f64::from(lo);
        self.sample_max_sum += f64::from(hi);
        self.samples += 1;
    }

    /// Second pass: one sample's values into the histogram over the first pass's range.
    pub fn observe_histogram(&mut self, values: &[f32]) {
        if self.counts.is_empty() {
            self.counts = vec![0; BINS];
        }
        let (lo, width) = (self.min, self.bin_width());
        for &v in values.iter().filter(|v| v.is_finite()) {
            let bin = if width > 0.0 {
                ((v - lo) / width) as usize
            } else {
                0
            };
            self.counts[bin.min(BINS - 1)] += 1;
        }
    }

    fn bin_width(&self) -> f32 {
        (self.max - self.min) / BINS as f32
    }

    /// The value at the left edge of bin `i`.
    fn edge(&self, i: usize) -> f32 {
        self.min + self.bin_width() * i as f32
    }

    /// The clipping range `method` chooses; always contains 0.
    pub fn range(&self, method: Method) -> (f32, f32) {
        if self.samples == 0 || self.min > self.max {
            return (0.0, 0.0);
        }
        let (lo, hi) = match method {
            Method::MinMax => (self.min, self.max),
            Method::AvgMinMax => (
                (self.sample_min_sum / self.samples as f64) as f32,
                (self.sample_max_sum / self.samples as f64) as f32,
            ),
            Method::Percentile(p) => self.percentiles(100.0 - p, p),
            Method::Mse => self.min_mse(),
            Method::Entropy => self.min_kl(),
        };
        (lo.min(0.0), hi.max(0.0))
    }

    fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    fn percentiles(&self, low: f64, high: f64) -> (f32, f32) {
        let total = self.total();
        if total == 0 {
            return (self.min, self.max);
        }
        let at = |p: f64| -> f32 {
            let target = (p / 100.0 * total as f64).ceil() as u64;
            let mut seen = 0;
            for (i, &c) in self.counts.iter().enumerate() {
                seen += c;
                if seen >= target.max(1) {
                    return self.edge(i + 1);
                }
            }
            self.max
        };
        let lo = if self.min >= 0.0 {
            self.min
        } else {
            at(low).min(0.0).max(self.min)
        };
        (lo, at(high))
    }

    /// Expected squared error of quantizing the histogram to 256 levels over `[lo, hi]`.
    fn mse_of(&self, lo: f32, hi: f32) -> f64 {
        let step = f64::from(hi - lo) / 255.0;
        let rounding = step * step / 12.0;
        let mut err = 0.0;
        for (i, &c) in self.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let centre = f64::from(self.edge(i)) + f64::from(self.bin_width()) / 2.0;
            let clipped = centre.clamp(f64::from(lo), f64::from(hi));
            err += c as f64 * ((centre - clipped).powi(2) + rounding);
        }
        err
    }

    /// Shrinks both ends of the range in steps of 1% and keeps the best MSE.
    fn min_mse(&self) -> (f32, f32) {
        let (min, max) = (self.min.min(0.0), self.max.max(0.0));
        let mut best = (f64::INFINITY, min, max);
        for lo_pct in (0..=100).rev().step_by(2) {
            for hi_pct in (1..=100).rev() {
                let (lo, hi) = (min * lo_pct as f32 / 100.0, max * hi_pct as f32 / 100.0);
                if hi - lo <= 0.0 {
                    continue;
                }
                let err = self.mse_of(lo, hi);
                if err < best.0 {
                    best = (err, lo, hi);
                }
            }
            if min == 0.0 {
                break;
            }
        }
        (best.1, best.2)
    }

    /// Entropy calibration on the side of zero that holds most of the range: the threshold
    /// whose 128-level (one side of int8) quantized histogram diverges least from the
    /// clipped original.
    fn min_kl(&self) -> (f32, f32) {
        let (min, max) = (self.min.min(0.0), self.max.max(0.0));
        let width = self.bin_width();
        if width <= 0.0 {
            return (min, max);
        }
        // Histogram of |x| with the same bin width, from zero.
        let zero_bin = ((0.0 - self.min) / width).round() as isize;
        let magnitude = |i: usize| -> usize { (i as isize - zero_bin).unsigned_abs() };
        let bins = (0..BINS).map(magnitude).max().unwrap_or(0) + 1;
        let mut abs = vec![0f64; bins];
        for (i, &c) in self.counts.iter().enumerate() {
            abs[magnitude(i)] += c as f64;
        }
        let levels = if min < 0.0 { 128 } else { 256 };
        let mut best = (f64::INFINITY, bins);
        for threshold in (levels..=bins).step_by((bins / 256).max(1)) {
            let mut p: Vec<f64> = abs[..threshold].to_vec();
            p[threshold - 1] += abs[threshold..].iter().sum::<f64>();
            let q = quantized_histogram(&abs[..threshold], levels);
            let kl = kl_divergence(&p, &q);
            if kl < best.0 {
                best = (kl, threshold);
            }
        }
        let t = best.1 as f32 * width;
        if min < 0.0 {
            ((-t).max(min), t.min(max).max(0.0))
        } else {
            (0.0, t.min(max))
        }
    }
}

/// `hist` merged into `levels` groups and spread back evenly over each group's non-empty bins.
fn quantized_histogram(hist: &[f64], levels: usize) -> Vec<f64> {
    let n = hist.len();
    let mut q = vec![0.0; n];
    for l in 0..levels {
        let (start, end) = (
            l * n / levels,
            ((l + 1) * n / levels).max(l * n / levels + 1).min(n),
        );
        let total: f64 = hist[start..end].iter().sum();
        let nonzero = hist[start..end].iter().filter(|&&v| v > 0.0).count();
        if nonzero > 0 {
            for i in start..end {
                if hist[i] > 0.0 {
                    q[i] = total / nonzero as f64;
                }
            }
        }
    }
    q
}

/// KL(p || q) of two unnormalized histograms (bins where `p` is 0 contribute nothing; `q`
/// is smoothed so that it is never 0 where `p` is not).
fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    let (ps, qs): (f64, f64) = (p.iter().sum(), q.iter().sum());
    if ps <= 0.0 || qs <= 0.0 {
        return 0.0;
    }
    p.iter()
        .zip(q)
        .filter(|(pv, _)| **pv > 0.0)
        .map(|(pv, qv)| {
            let (pn, qn) = (pv / ps, (qv / qs).max(1e-10));
            pn * (pn / qn).ln()
        })
        .sum()
}

/// int8 scale and zero point of an asymmetric range containing 0.
pub fn params(lo: f32, hi: f32) -> (f32, i64) {
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if hi - lo <= f32::EPSILON {
        return (1.0, 0);
    }
    let scale = (hi - lo) / 255.0;
    let zero_point = (-128.0 - lo / scale).round().clamp(-128.0, 127.0) as i64;
    (scale, zero_point)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(values: &[f32]) -> TensorStats {
        let mut s = TensorStats::default();
        s.observe_range(values);
        s.observe_histogram(values);
        s
    }

    #[test]
    fn minmax_and_params() {
        let s = stats(&[-1.0, 0.5, 3.0]);
        assert_eq!(s.range(Method::MinMax), (-1.0, 3.0));
        let (scale, zp) = params(-1.0, 3.0);
        assert!((scale - 4.0 / 255.0).abs() < 1e-7);
        assert_eq!(zp, -128 + 64);
        assert_eq!(params(0.0, 2.55), (0.01, -128));
    }

    #[test]
    fn clipping_methods_ignore_a_rare_outlier() {
        let mut values: Vec<f32> = (0..10_000).map(|i| (i % 100) as f32 / 100.0).collect();
        values.push(50.0);
        let s = stats(&values);
        for method in [Method::Percentile(99.9), Method::Entropy] {
            let (lo, hi) = s.range(method);
            assert_eq!(lo, 0.0, "{method:?}");
            // Entropy needs 256 of the 2048 bins below its threshold: at least 1/8 of the range.
            assert!((0.5..=50.0 / 8.0).contains(&hi), "{method:?}: {hi}");
        }
        assert_eq!(s.range(Method::MinMax).1, 50.0);
    }

    #[test]
    fn mse_clips_a_long_tail() {
        // Exponential distribution by its quantiles: the tail is long and thin.
        let n = 100_000;
        let values: Vec<f32> = (0..n)
            .map(|i| -(1.0 - (i as f64 + 0.5) / n as f64).ln() as f32)
            .collect();
        let s = stats(&values);
        let (lo, hi) = s.range(Method::Mse);
        assert_eq!(lo, 0.0);
        // The optimum balances clipping (~2e^-hi per value) and rounding (hi^2/255^2/12): ~11.
        assert!(hi < s.max && hi > 9.0, "{hi} of {}", s.max);
    }

    #[test]
    fn method_names_round_trip() {
        for m in [
            Method::MinMax,
            Method::AvgMinMax,
            Method::Percentile(99.9),
            Method::Mse,
            Method::Entropy,
        ] {
            assert_eq!(Method::parse(&m.name()).unwrap(), m);
        }
        assert!(Method::parse("median").is_err());
    }
}
