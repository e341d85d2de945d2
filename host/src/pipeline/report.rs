//! The pipeline's report: a versioned JSON document, and a Markdown summary for CI logs.

use super::evaluate::Metrics;
use super::fallback::LayerSensitivity;
use super::gates::{GateResult, fmt};
use serde::Serialize;
use std::fmt::Write;

/// Version of the JSON report's schema; bumped on any incompatible change.
pub const SCHEMA: &str = "whittle.pipeline.report/1";

/// Where a report came from: enough to reproduce and audit the decision.
#[derive(Debug, Clone, Serialize)]
pub struct Audit {
    /// `whittle`.
    pub tool: String,
    /// Tool version.
    pub version: String,
    /// The pipeline file and its SHA-256.
    pub config: FileHash,
    /// The model, the data files, with their SHA-256.
    pub inputs: Vec<FileHash>,
    /// Seed of stochastic steps.
    pub seed: u64,
    /// Target profile.
    pub target: String,
    /// When the run started and finished (RFC 3339, UTC).
    pub started: String,
    /// When the run finished.
    pub finished: String,
}

/// A file and its SHA-256.
#[derive(Debug, Clone, Serialize)]
pub struct FileHash {
    /// Role: `config`, `model`, `calibration`, `validation`, `edge_cases`.
    pub role: String,
    /// Path as given.
    pub path: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

/// One evaluated model: the baseline, a stage, or a fallback attempt.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// `baseline`, `quantize`, or `quantize + fallback (N float layers)`.
    pub name: String,
    /// Layers kept in float32.
    pub float_layers: Vec<String>,
    /// What was measured.
    pub metrics: Metrics,
    /// Verdict of every gate (empty for the baseline).
    pub gates: Vec<GateResult>,
    /// Whether every gate passed.
    pub passed: bool,
}

/// The fallback's work.
#[derive(Debug, Clone, Serialize)]
pub struct FallbackReport {
    /// Every candidate layer, most sensitive first.
    pub sensitivity: Vec<LayerSensitivity>,
    /// Layers the final model keeps in float32.
    pub kept_float: Vec<String>,
    /// The budget: at most this many float layers.
    pub max_float_layers: usize,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// Whether the final model passed every gate.
    pub passed: bool,
    /// One line: the verdict and why.
    pub verdict: String,
    /// Provenance.
    pub audit: Audit,
    /// The float model.
    pub baseline: StageReport,
    /// Stages in the order they ran, fallback attempts included; the last is the result.
    pub stages: Vec<StageReport>,
    /// Fallback details, when it ran.
    pub fallback: Option<FallbackReport>,
    /// Gates the final model fails.
    pub failed_gates: Vec<GateResult>,
    /// Layers to blame for a failure, most sensitive first.
    pub blame: Vec<String>,
    /// The artifact written, if any.
    pub artifact: Option<String>,
    /// Class names, when given.
    pub classes: Vec<String>,
}

impl Report {
    /// The stage whose model is the pipeline's result.
    pub fn last(&self) -> &StageReport {
        self.stages.last().unwrap_or(&self.baseline)
    }
}

fn pct(v: f64) -> String {
    format!("{:.2}%", 100.0 * v)
}

/// A Markdown summary: verdict, stages side by side, gates, worst groups, blame, provenance.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# whittle pipeline: {}\n",
        if r.passed { "PASSED" } else { "FAILED" }
    );
    let _ = writeln!(s, "{}\n", r.verdict);
    let _ = writeln!(s, "## Stages\n");
    let _ = writeln!(
        s,
        "| stage | float layers | top-1 | drop (pts) | agreement | KL mean | KL p95 | MACs | flash B | RAM B | latency ms (p50/p90) | gates |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for st in std::iter::once(&r.baseline).chain(&r.stages) {
        let m = &st.metrics;
        let (top1, drop) = m
            .classification
            .as_ref()
            .map_or(("-".into(), "-".into()), |c| {
                (pct(c.top1), format!("{:.2}", 100.0 * c.top1_drop))
            });
        let gates = if st.gates.is_empty() {
            "-".to_string()
        } else if st.passed {
            "pass".to_string()
        } else {
            format!(
                "FAIL ({})",
                st.gates
                    .iter()
                    .filter(|g| !g.passed)
                    .map(|g| g.gate.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let _ = writeln!(
            s,
            "| {} | {} | {top1} | {drop} | {} | {:.5} | {:.5} | {} | {} | {} | {:.3}/{:.3} | {gates} |",
            st.name,
            st.float_layers.len(),
            pct(m.agreement),
            m.kl_mean,
            m.kl_p95,
            m.macs,
            m.flash_bytes,
            m.ram_bytes,
            m.latency_ms_median,
            m.latency_ms_p90,
        );
    }
    let last = r.last();
    let _ = writeln!(s, "\n## Gates ({})\n", last.name);
    let _ = writeln!(s, "| gate | limit | value | verdict | detail |");
    let _ = writeln!(s, "|---|---:|---:|---|---|");
    for g in &last.gates {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            g.gate,
            fmt(g.limit),
            fmt(g.value),
            if g.passed { "pass" } else { "**FAIL**" },
            g.detail
        );
    }
    if let Some(c) = &last.metrics.classification {
        for (title, groups) in [("Segments", &c.segments), ("Classes", &c.classes)] {
            if groups.is_empty() {
                continue;
            }
            let _ = writeln!(s, "\n## {title} ({})\n", last.name);
            let _ = writeln!(s, "| id | name | samples | top-1 | drop (pts) |");
            let _ = writeln!(s, "|---:|---|---:|---:|---:|");
            for g in groups {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.2} |",
                    g.id,
                    g.name,
                    g.samples,
                    pct(g.top1),
                    100.0 * g.drop
                );
            }
        }
    }
    if let Some(f) = &r.fallback {
        let _ = writeln!(
            s,
            "\n## Layer sensitivity\n\nKept in float32: {} (budget {}).\n",
            if f.kept_float.is_empty() {
                "none".to_string()
            } else {
                f.kept_float.join(", ")
            },
            f.max_float_layers
        );
        let _ = writeln!(
            s,
            "| layer | op | SQNR dB | KL mean with it float | KL won back |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|");
        for l in &f.sensitivity {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.5} | {:.5} |",
                l.layer,
                l.op,
                l.sqnr_db.map_or("-".into(), |v| format!("{v:.1}")),
                l.kl_mean_alone_float,
                l.kl_recovered
            );
        }
    }
    if !r.blame.is_empty() {
        let _ = writeln!(s, "\nLayers to blame: {}", r.blame.join(", "));
    }
    let a = &r.audit;
    let _ = writeln!(
        s,
        "\n## Audit\n\n{} {}, target {}, seed {}, {} to {}\n",
        a.tool, a.version, a.target, a.seed, a.started, a.finished
    );
    for f in std::iter::once(&a.config).chain(&a.inputs) {
        let _ = writeln!(s, "- {} `{}` sha256 `{}`", f.role, f.path, f.sha256);
    }
    if let Some(p) = &r.artifact {
        let _ = writeln!(s, "\nArtifact: `{p}`");
    }
    s
}
