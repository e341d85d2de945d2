//! `whittle inspect`: what an artifact holds.

use super::bytes;
use anyhow::Context;
use std::path::PathBuf;
use whittle::inspect::Summary;

#[derive(clap::Args)]
pub struct Args {
    /// The .wtl artifact.
    artifact: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let data = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let s = Summary::of(&data)
        .with_context(|| format!("{} is not a valid artifact", args.artifact.display()))?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(true);
    }
    let ratio = if s.arena_lower_bound_bytes > 0 {
        s.arena_bytes as f64 / s.arena_lower_bound_bytes as f64
    } else {
        1.0
    };
    out!(
        "{}: format {}, {}, target {}, weight layout {}",
        args.artifact.display(),
        s.format_version,
        s.producer,
        s.target,
        s.weight_layout
    );
    out!(
        "  artifact     {:>12} bytes   weights {} bytes",
        bytes(s.artifact_bytes),
        bytes(s.weight_bytes)
    );
    out!(
        "  arena        {:>12} bytes   lower bound {} bytes ({ratio:.3}x)",
        bytes(s.arena_bytes),
        bytes(s.arena_lower_bound_bytes)
    );
    let w = &s.weight_breakdown;
    out!(
        "  weights by role: weights {}, biases {}, requantization {}, tables {}, constants {}",
        bytes(w.weights as usize),
        bytes(w.biases as usize),
        bytes(w.requantization as usize),
        bytes(w.tables as usize),
        bytes(w.constants as usize)
    );
    out!(
        "  MACs         {:>12} per inference",
        bytes(s.macs as usize)
    );
    out!("  runtime features  {}", s.runtime_features.join(", "));
    if s.sparse_ops > 0 {
        out!(
            "  sparse weights  {} op(s), {} bytes saved over dense int8",
            s.sparse_ops,
            bytes(s.sparse_saved_bytes.max(0) as usize)
        );
        for (i, op) in s.op_details.iter().enumerate() {
            if op.sparse_saved_bytes != 0 {
                out!(
                    "    #{i} {} {}: {} bytes saved",
                    op.op,
                    op.output,
                    bytes(op.sparse_saved_bytes.max(0) as usize)
                );
            }
        }
    }
    if let Some(digest) = &s.sha256 {
        out!("  sha256       {digest}");
    }
    if let Some(v) = &s.validation {
        out!(
            "  validation   {:>12} vector(s), {} bytes (inputs, expected outputs, layer checksums)",
            v.vectors,
            bytes(v.bytes as usize)
        );
    }
    for (label, list) in [("input ", &s.inputs), ("output", &s.outputs)] {
        for io in list {
            let quant = match (io.scale, io.zero_point) {
                (Some(s), Some(z)) => format!("  scale {s} zero point {z}"),
                _ => String::new(),
            };
            out!(
                "  {label}       {} {} {:?}{quant}",
                io.name,
                io.dtype,
                io.shape
            );
        }
    }
    out!("");
    out!(
        "  {:>3}  {:<16} {:<40} {:<18} {:>10} {:>12}",
        "#",
        "op",
        "output",
        "shape",
        "weights",
        "MACs"
    );
    for (i, op) in s.op_details.iter().enumerate() {
        let name: String = if op.output.len() > 40 {
            format!("{}…", &op.output[..op.output.floor_char_boundary(39)])
        } else {
            op.output.clone()
        };
        out!(
            "  {i:>3}  {:<16} {:<40} {:<18} {:>10} {:>12}",
            op.op,
            name,
            format!("{:?}", op.shape),
            bytes(op.weight_bytes as usize),
            bytes(op.macs as usize)
        );
    }
    Ok(true)
}
