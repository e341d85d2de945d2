//! `whittle eval`: accuracy of an artifact on labelled data.

use super::DataScaling;
use anyhow::Context;
use std::path::PathBuf;
use whittle::run::Runner;

#[derive(clap::Args)]
pub struct Args {
    /// The .wtl artifact.
    artifact: PathBuf,
    /// Labelled data (.npz): inputs and integer labels.
    #[arg(long)]
    data: PathBuf,
    /// Array holding the inputs (default: `x` or the one named after the model input).
    #[arg(long, value_name = "KEY")]
    x_key: Option<String>,
    /// Array holding the labels.
    #[arg(long, value_name = "KEY", default_value = "y")]
    y_key: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    scaling: DataScaling,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let artifact = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let mut runner = Runner::new(&artifact)
        .with_context(|| format!("{} is not a valid artifact", args.artifact.display()))?;
    let arrays = whittle::data::read_arrays(&args.data)?;
    let inputs = super::model_inputs(&runner, &arrays, args.x_key.as_deref(), &args.scaling)
        .with_context(|| format!("data {}", args.data.display()))?;
    if !arrays.iter().any(|(n, _)| *n == args.y_key) {
        anyhow::bail!("no label array '{}' in {}", args.y_key, args.data.display());
    }
    let scores = runner
        .run(&inputs)
        .with_context(|| format!("data {}", args.data.display()))?;
    let first = scores.first().context("the model has no output")?;
    let classes = *first.shape.last().unwrap_or(&1);
    let labels = super::labels(&arrays, &args.y_key, first.len() / classes.max(1))
        .with_context(|| format!("data {}", args.data.display()))?
        .unwrap_or_default();
    let accuracy = whittle::metrics::accuracy(&first.to_f32(), classes, &labels)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("data {}", args.data.display()))?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&accuracy)?);
        return Ok(true);
    }
    out!(
        "{}: {} samples, top-1 {:.2}%, top-5 {:.2}%",
        args.data.display(),
        accuracy.samples,
        100.0 * accuracy.top1,
        100.0 * accuracy.top5
    );
    for c in &accuracy.per_class {
        out!(
            "  class {:>3}: {:>6.2}% of {}",
            c.class,
            100.0 * c.top1,
            c.samples
        );
    }
    Ok(true)
}
