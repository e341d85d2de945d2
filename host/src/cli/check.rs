//! `whittle check`: every node's fate, before anything is written.

use super::ModelArgs;
use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let opts = args.model.options()?;
    let path = &args.model.model;
    let model = whittle::compile::load_onnx(path)?;
    let report = whittle::compile::check(&model, path.parent(), &opts)
        .with_context(|| format!("checking {}", path.display()))?;
    // A negative verdict also goes to stderr, one line per node that does not compile, so
    // scripts that keep only the diagnostics (or only the JSON) still see why.
    for n in report
        .nodes
        .iter()
        .filter(|n| n.status == "unsupported" || n.status == "not analysed")
    {
        eprintln!(
            "{}: node '{}' ({}) {}: {}",
            path.display(),
            n.node,
            n.op_type,
            n.status,
            n.detail
        );
    }
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(report.compiles);
    }
    let count = |s: &str| report.nodes.iter().filter(|n| n.status == s).count();
    out!(
        "{}: opset {}, {} nodes, target {}",
        path.display(),
        report.opset,
        report.nodes.len(),
        opts.target.name
    );
    for status in [
        "runs",
        "folded",
        "fused",
        "removed",
        "unsupported",
        "not analysed",
    ] {
        let n = count(status);
        if n > 0 {
            out!("  {status:<13} {n}");
        }
    }
    out!("");
    let width = report
        .nodes
        .iter()
        .map(|n| n.node.len())
        .max()
        .unwrap_or(4)
        .min(48);
    for n in &report.nodes {
        let name: String = if n.node.len() > width {
            format!("{}…", &n.node[..n.node.floor_char_boundary(width - 1)])
        } else {
            n.node.clone()
        };
        out!(
            "  {name:<width$}  {:<20} {:<12} {}",
            n.op_type,
            n.status,
            n.detail
        );
    }
    out!("");
    if report.compiles {
        out!("OK: every node compiles");
    } else {
        let bad = count("unsupported") + count("not analysed");
        out!("NOT SUPPORTED: {bad} node(s) cannot be compiled (see 'unsupported' above)");
    }
    Ok(report.compiles)
}
