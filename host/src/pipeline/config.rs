//! The pipeline file: a TOML schema with every table and key checked, paths resolved against
//! the file's directory, and sizes written as `"256KiB"`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A pipeline file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// The float model.
    pub model: ModelSection,
    /// Calibration, validation and edge-case data.
    pub data: DataSection,
    /// The target profile whose budgets apply.
    #[serde(default)]
    pub target: TargetSection,
    /// The pruning stage (before quantization).
    pub prune: Option<PruneSection>,
    /// The distillation stage (after pruning, before quantization).
    pub distill: Option<DistillSection>,
    /// The quantization stage.
    pub quantize: Option<QuantizeSection>,
    /// The gates every stage must pass.
    #[serde(default)]
    pub gates: Gates,
    /// What to do when a quantized stage misses a gate.
    #[serde(default)]
    pub fallback: FallbackSection,
    /// Where results go.
    pub output: OutputSection,
    /// Seed of every stochastic step (recorded in the reports).
    #[serde(default)]
    pub seed: u64,
}

/// `[model]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// ONNX file.
    pub path: PathBuf,
    /// Shapes for inputs with dynamic dimensions, as `--input-shape` takes them.
    #[serde(default)]
    pub input_shapes: Vec<String>,
}

/// What the model's output means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// Class scores or probabilities; labels are class indices.
    #[default]
    Classification,
    /// Any other output, compared value by value.
    Regression,
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Samples for calibration (.npz/.npy).
    pub calibration: PathBuf,
    /// Labelled samples every stage is measured on (.npz).
    pub validation: PathBuf,
    /// Samples whose prediction must not change (.npz/.npy).
    pub edge_cases: Option<PathBuf>,
    /// Array holding the inputs (default: `x` or the one named after the model input).
    pub x_key: Option<String>,
    /// Array holding the labels.
    #[serde(default = "default_y_key")]
    pub y_key: String,
    /// Array holding each validation sample's segment (an integer).
    #[serde(default = "default_segment_key")]
    pub segment_key: String,
    /// Segment names by number.
    #[serde(default)]
    pub segments: BTreeMap<String, String>,
    /// Class names, in index order.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Use at most this many calibration samples.
    pub calibration_samples: Option<usize>,
    /// Only rows `[start, end)` of the calibration file (e.g. when one file is split).
    pub calibration_rows: Option<[usize; 2]>,
    /// Only rows `[start, end)` of the validation file.
    pub validation_rows: Option<[usize; 2]>,
    /// Scale of integer input data: the model receives `(q - input_zero_point) * input_scale`.
    pub input_scale: Option<f32>,
    /// Zero point of integer input data (with `input_scale`).
    pub input_zero_point: Option<i64>,
    /// What the output means.
    #[serde(default)]
    pub task: Task,
}

fn default_y_key() -> String {
    "y".into()
}

fn default_segment_key() -> String {
    "segment".into()
}

/// `[target]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSection {
    /// Built-in profile name or a profile file.
    #[serde(default = "default_profile")]
    pub profile: String,
}

fn default_profile() -> String {
    "generic".into()
}

impl Default for TargetSection {
    fn default() -> Self {
        TargetSection {
            profile: default_profile(),
        }
    }
}

/// `[quantize]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QuantizeSection {
    /// Only `int8`.
    pub scheme: String,
    /// Calibration method, as `--calib-method` takes it.
    #[serde(default = "default_calibration")]
    pub calibration: String,
    /// Empirical bias correction.
    #[serde(default)]
    pub bias_correction: bool,
    /// Layers kept in float32 from the start.
    #[serde(default)]
    pub keep_float: Vec<String>,
}

fn default_calibration() -> String {
    "mse".into()
}

/// `[gates]`: limits on the compressed model, each optional. Drops are fractions (0.01 = one
/// point of accuracy) measured against the float baseline.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Gates {
    /// Largest top-1 accuracy drop.
    pub max_top1_drop: Option<f64>,
    /// Largest top-k accuracy drop (k = `top_k`).
    pub max_topk_drop: Option<f64>,
    /// The k of `max_topk_drop` (default 5).
    pub top_k: Option<usize>,
    /// Largest top-1 drop of any class.
    pub max_class_drop: Option<f64>,
    /// Largest top-1 drop of any segment.
    pub max_segment_drop: Option<f64>,
    /// Largest mean KL divergence between baseline and compressed output distributions.
    pub max_kl: Option<f64>,
    /// Largest 95th percentile of that KL divergence.
    pub max_kl_p95: Option<f64>,
    /// Smallest fraction of samples whose top-1 class is the baseline's.
    pub min_agreement: Option<f64>,
    /// Largest mean absolute output error against the baseline (regression).
    pub max_mae: Option<f64>,
    /// Largest RMS output error against the baseline (regression).
    pub max_rmse: Option<f64>,
    /// Largest absolute output error against the baseline (regression).
    pub max_error: Option<f64>,
    /// Smallest correlation with the baseline's outputs (regression).
    pub min_correlation: Option<f64>,
    /// Largest artifact, e.g. `"256KiB"` (the target's flash budget applies as well).
    pub max_flash: Option<Size>,
    /// Largest arena, e.g. `"64KiB"` (the target's RAM budget applies as well).
    pub max_ram: Option<Size>,
    /// Every edge case keeps the baseline's prediction.
    #[serde(default)]
    pub edge_cases_must_match: bool,
}

/// `[fallback]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackSection {
    /// Keep the most sensitive layers in float32 until the gates pass.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// At most this many layers kept in float32.
    #[serde(default = "default_max_float_layers")]
    pub max_float_layers: usize,
}

fn yes() -> bool {
    true
}

fn default_max_float_layers() -> usize {
    3
}

impl Default for FallbackSection {
    fn default() -> Self {
        FallbackSection {
            enabled: true,
            max_float_layers: default_max_float_layers(),
        }
    }
}

/// `[prune]`: remove whole channels from the float model (see `whittle prune`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PruneSection {
    /// Importance criterion: `l1`, `l2`, `bn-scale` or `taylor` (measured on the calibration
    /// data).
    #[serde(default = "default_criterion")]
    pub criterion: String,
    /// Share of every group's channels to remove, in [0, 1).
    pub ratio: Option<f64>,
    /// Share of the original MACs to keep, in (0, 1]; the ratio is searched.
    pub target_macs: Option<f64>,
    /// Rank channels across groups instead of within each group.
    #[serde(default)]
    pub global: bool,
    /// Every pruned group keeps a multiple of this many channels (default: the target
    /// profile's channel multiple).
    #[serde(default)]
    pub round_to: Option<usize>,
}

fn default_criterion() -> String {
    "l1".into()
}

/// `[distill]`: fine-tune the pruned model on the original's soft targets (see
/// `whittle distill`), on the calibration data with its labels.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DistillSection {
    /// Passes over the data.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Softmax temperature of the KL term.
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    /// Weight of the KL term; the rest goes to cross-entropy on the labels.
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Peak learning rate (default: the optimizer's).
    pub lr: Option<f64>,
    /// Samples per step.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// `adam` or `sgd`.
    #[serde(default = "default_optimizer")]
    pub optimizer: String,
    /// Quantization-aware training: `int8` trains the student as its int8 compilation
    /// computes, on ranges from `[quantize].calibration` over the calibration data.
    pub qat: Option<String>,
}

fn default_epochs() -> usize {
    10
}

fn default_temperature() -> f64 {
    4.0
}

fn default_alpha() -> f64 {
    0.7
}

fn default_batch() -> usize {
    64
}

fn default_optimizer() -> String {
    "adam".into()
}

/// `[output]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    /// The artifact written when the gates pass.
    pub artifact: PathBuf,
    /// Directory of the reports (default: `reports` next to the artifact).
    pub report_dir: Option<PathBuf>,
    /// Embed the first N validation samples into the artifact (inputs, expected outputs and
    /// per-layer checksums) for the device's boot self-test; 0 embeds none.
    #[serde(default)]
    pub embed_validation: usize,
}

/// A byte count written as a number or a string with a unit (`B`, `KiB`, `MiB`, `kB`, `MB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SizeText", into = "u64")]
pub struct Size(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeText {
    Bytes(u64),
    Text(String),
}

impl TryFrom<SizeText> for Size {
    type Error = String;
    fn try_from(v: SizeText) -> Result<Self, String> {
        match v {
            SizeText::Bytes(n) => Ok(Size(n)),
            SizeText::Text(s) => parse_size(&s).map(Size),
        }
    }
}

impl From<Size> for u64 {
    fn from(s: Size) -> u64 {
        s.0
    }
}

/// Parses `"256KiB"`, `"1.5 MiB"`, `"64000"` or `"64kB"` into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a size (e.g. 256KiB)"))?;
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "kB" | "KB" => 1000.0,
        "MB" => 1e6,
        other => {
            return Err(format!(
                "unknown unit '{other}' in size '{s}' (B, KiB, MiB, kB, MB)"
            ));
        }
    };
    let bytes = value * factor;
    if bytes.fract() != 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("'{s}' is not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

/// `a/b/../c` -> `a/c`, without touching the file system (`..` at the start stays).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

impl PipelineConfig {
    /// Parses a pipeline file's text; `dir` resolves relative paths. Unknown keys, missing
    /// sections and inconsistent settings are errors naming the key.
    pub fn parse(text: &str, dir: &Path) -> Result<Self, String> {
        let mut c: PipelineConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = normalize(&dir.join(&*p));
            }
        };
        resolve(&mut c.model.path);
        resolve(&mut c.data.calibration);
        resolve(&mut c.data.validation);
        if let Some(p) = c.data.edge_cases.as_mut() {
            resolve(p);
        }
        resolve(&mut c.output.artifact);
        if let Some(p) = c.output.report_dir.as_mut() {
            resolve(p);
        }
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), String> {
        let Some(q) = &self.quantize else {
            return Err("no stage configured: add a [quantize] table".into());
        };
        if q.scheme != "int8" {
            return Err(format!(
                "quantize.scheme: '{}' is not supported (int8)",
                q.scheme
            ));
        }
        crate::quantize::Method::parse(&q.calibration)
            .map_err(|e| format!("quantize.calibration: {e}"))?;
        if let Some(scheme) = self.distill.as_ref().and_then(|d| d.qat.as_ref()) {
            crate::distill::qat::parse_scheme(scheme).map_err(|e| format!("distill.qat: {e}"))?;
        }
        if self.prune.as_ref().and_then(|p| p.round_to) == Some(0) {
            return Err("prune.round_to must be at least 1".into());
        }
        for key in self.data.segments.keys() {
            key.parse::<i64>()
                .map_err(|_| format!("data.segments: key '{key}' is not a segment number"))?;
        }
        let g = &self.gates;
        let fractions = [
            ("max_top1_drop", g.max_top1_drop),
            ("max_topk_drop", g.max_topk_drop),
            ("max_class_drop", g.max_class_drop),
            ("max_segment_drop", g.max_segment_drop),
            ("min_agreement", g.min_agreement),
        ];
        for (name, v) in fractions {
            if let Some(v) = v
                && !(0.0..=1.0).contains(&v)
            {
                return Err(format!(
                    "gates.{name} = {v}: a fraction between 0 and 1 (0.01 = one point)"
                ));
            }
        }
        for (name, rows) in [
            ("calibration_rows", self.data.calibration_rows),
            ("validation_rows", self.data.validation_rows),
        ] {
            if let Some([start, end]) = rows
                && start >= end
            {
                return Err(format!(
                    "data.{name} = [{start}, {end}]: start must be below end"
                ));
            }
        }
        if self.data.input_zero_point.is_some() && self.data.input_scale.is_none() {
            return Err("data.input_zero_point needs data.input_scale".into());
        }
        if g.top_k == Some(0) {
            return Err("gates.top_k must be at least 1".into());
        }
        if g.edge_cases_must_match && self.data.edge_cases.is_none() {
            return Err("gates.edge_cases_must_match needs data.edge_cases".into());
        }
        for file in [
            Some(&self.model.path),
            Some(&self.data.calibration),
            Some(&self.data.validation),
            self.data.edge_cases.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if !file.is_file() {
                return Err(format!("{}: no such file", file.display()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_size("256KiB").unwrap(), 262_144);
        assert_eq!(parse_size("1.5 MiB").unwrap(), 1_572_864);
        assert_eq!(parse_size("64kB").unwrap(), 64_000);
        assert_eq!(parse_size("300").unwrap(), 300);
        assert!(parse_size("12 parsecs").unwrap_err().contains("parsecs"));
        assert!(parse_size("0.5B").is_err());
    }

    #[test]
    fn relative_paths_are_normalized() {
        assert_eq!(
            normalize(Path::new("examples/gesture/../../target/x.wtl")),
            PathBuf::from("target/x.wtl")
        );
        assert_eq!(normalize(Path::new("../a/./b")), PathBuf::from("../a/b"));
    }
}
