//! `whittle pipeline`: run the compression pipeline as a release gate.

use anyhow::Context;
use std::path::{Path, PathBuf};
use whittle::artifact::write_atomically;
use whittle::pipeline::{self, html, report};

#[derive(clap::Args)]
pub struct Args {
    /// The pipeline file (TOML; see docs/pipeline.md).
    config: PathBuf,
    /// Directory for report.json, summary.md and report.html (default: the file's
    /// `output.report_dir`, else `reports/` next to the artifact).
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Print the JSON report instead of the Markdown summary.
    #[arg(long)]
    json: bool,
    /// When a gate fails, still write the artifact, as `<name>.failed.wtl`.
    #[arg(long)]
    write_failed: bool,
}

/// `model.wtl` -> `model.failed.wtl`.
fn failed_name(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    path.with_file_name(format!("{stem}.failed.wtl"))
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let mut outcome = pipeline::run(&args.config)?;
    let dir = args
        .report_dir
        .or(outcome.report_dir.clone())
        .unwrap_or_else(|| {
            outcome
                .artifact_path
                .parent()
                .unwrap_or(Path::new("."))
                .join("reports")
        });
    // The report directory first: when it cannot be made, no artifact is left behind either.
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let artifact = if outcome.report.passed {
        Some(outcome.artifact_path.clone())
    } else if args.write_failed {
        Some(failed_name(&outcome.artifact_path))
    } else {
        None
    };
    if let Some(path) = &artifact {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        write_atomically(path, &outcome.artifact)
            .with_context(|| format!("writing {}", path.display()))?;
        outcome.report.artifact = Some(path.display().to_string());
    }
    let r = &outcome.report;
    let json = serde_json::to_string_pretty(r)?;
    let summary = report::markdown(r);
    for (name, text) in [
        ("report.json", &json),
        ("summary.md", &summary),
        ("report.html", &html::html(r)),
    ] {
        let path = dir.join(name);
        write_atomically(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        out!("{json}");
    } else {
        out!("{summary}");
        out!("reports: {}", dir.display());
    }
    if !r.passed {
        eprintln!("whittle pipeline: {}", r.verdict);
    }
    Ok(r.passed)
}
