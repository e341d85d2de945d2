//! `whittle compare`: how far an artifact is from its source model, output and per layer.

use super::{DataScaling, ModelArgs};
use anyhow::Context;
use std::path::PathBuf;
use whittle::run::Runner;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The .wtl artifact compiled from the model.
    artifact: PathBuf,
    /// Data (.npz/.npy; leading dimension = samples).
    #[arg(long)]
    data: PathBuf,
    /// Array holding the inputs (default: `x` or the one named after the model input).
    #[arg(long, value_name = "KEY")]
    x_key: Option<String>,
    /// Compare at most N samples.
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    scaling: DataScaling,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let opts = args.model.options()?;
    let artifact = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let runner = Runner::new(&artifact)
        .with_context(|| format!("{} is not a valid artifact", args.artifact.display()))?;
    let arrays = whittle::data::read_arrays(&args.data)?;
    let mut inputs = super::model_inputs(&runner, &arrays, args.x_key.as_deref(), &args.scaling)?;
    if let Some(n) = args.samples {
        for t in &mut inputs {
            let per = t.len() / t.shape[0].max(1);
            let keep = n.min(t.shape[0]);
            *t = whittle::Tensor::f32(
                [&[keep][..], &t.shape[1..]].concat(),
                t.to_f32()[..keep * per].to_vec(),
            );
        }
    }
    let report = whittle::compare::compare(&args.model.model, &artifact, &inputs, &opts)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(true);
    }
    out!(
        "{} vs {}: {} samples, top-1 agreement {:.2}%, KL mean {:.5} p95 {:.5}, output MAE {:.5} RMSE {:.5} max {:.5} corr {:.5}",
        args.artifact.display(),
        args.model.model.display(),
        report.samples,
        100.0 * report.top1_agreement,
        report.kl_mean,
        report.kl_p95,
        report.output.mae,
        report.output.rmse,
        report.output.max,
        report.output.correlation
    );
    out!(
        "  {:>3}  {:<18} {:<44} {:>9}",
        "#",
        "op",
        "layer",
        "SQNR dB"
    );
    for l in &report.layers {
        let name: String = if l.name.len() > 44 {
            format!("{}…", &l.name[..l.name.floor_char_boundary(43)])
        } else {
            l.name.clone()
        };
        out!(
            "  {:>3}  {:<18} {:<44} {:>9.2}",
            l.index,
            l.op,
            name,
            l.sqnr_db
        );
    }
    Ok(true)
}
