//! `whittle compile`: ONNX -> .wtl.

use super::{ModelArgs, bytes};
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Output artifact.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let opts = args.model.options()?;
    let compiled = whittle::compile_path(&args.model.model, &opts)?;
    whittle::artifact::write_atomically(&args.output, &compiled.artifact)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let plan = &compiled.plan;
    let weights: usize = compiled.program.weights.iter().map(Vec::len).sum();
    out!(
        "wrote {}: {} bytes (weights {}), {} ops, arena {} bytes (lower bound {}), target {}",
        args.output.display(),
        bytes(compiled.artifact.len()),
        bytes(weights),
        compiled.program.ops.len(),
        bytes(plan.arena_bytes),
        bytes(plan.lower_bound_bytes),
        opts.target.name
    );
    Ok(true)
}
