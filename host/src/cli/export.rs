//! `whittle export-onnx`: an artifact as an ONNX model (QDQ form for int8 operators).

use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The .wtl artifact.
    artifact: PathBuf,
    /// The ONNX file to write.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let data = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let exported = whittle::export::export(&data)
        .with_context(|| format!("exporting {}", args.artifact.display()))?;
    let bytes = exported.to_bytes();
    whittle::artifact::write_atomically(&args.output, &bytes)
        .with_context(|| format!("writing {}", args.output.display()))?;
    out!(
        "wrote {}: {} bytes, {} ONNX nodes from {} ops ({} integer, as QDQ), opset {}",
        args.output.display(),
        super::bytes(bytes.len()),
        exported.nodes(),
        exported.ops,
        exported.integer_ops,
        whittle::export::OPSET
    );
    Ok(true)
}
