//! `whittle bench`: host latency per inference and per operator, of an artifact through the
//! runtime or (`--tract`) of the float ONNX model through tract, the baseline it is compared to.

use anyhow::{Context, bail};
use std::path::PathBuf;
use whittle_runtime::{AlignedBytes, Model};

#[derive(clap::Args)]
pub struct Args {
    /// The .wtl artifact (with --tract: the ONNX model).
    artifact: PathBuf,
    /// Time the ONNX model given instead through tract's optimized plan (batch 1, one thread).
    #[arg(long)]
    tract: bool,
    /// Timed inferences.
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// Untimed inferences first (caches, branch predictors).
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Input sample(s): one .npy per model input (the first sample is used); zeros without.
    #[arg(long)]
    input: Vec<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    if args.tract {
        return run_tract(&args);
    }
    let artifact = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let bytes = AlignedBytes::new(&artifact);
    let model = Model::load(&bytes)
        .with_context(|| format!("{} is not a valid artifact", args.artifact.display()))?;
    let inputs = if args.input.is_empty() {
        None
    } else {
        if args.input.len() != model.input_count() {
            bail!(
                "the model has {} input(s), {} --input file(s) given",
                model.input_count(),
                args.input.len()
            );
        }
        let mut all = Vec::new();
        for (index, path) in args.input.iter().enumerate() {
            let t = whittle::data::read_npy(path)?;
            let desc = model.input(index).context("no such input")?;
            let data = whittle::run::input_bytes(&t, &desc)
                .with_context(|| format!("{}", path.display()))?;
            let sample = desc.buf.bytes as usize;
            if data.len() < sample {
                bail!(
                    "{}: {} bytes, the input '{}' takes {sample} per sample",
                    path.display(),
                    data.len(),
                    desc.name
                );
            }
            all.push(data[..sample].to_vec());
        }
        Some(all)
    };
    let report = whittle::bench::bench(&artifact, inputs.as_deref(), args.runs, args.warmup)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(true);
    }
    out!(
        "{}: {} runs, median {:.1} us, p90 {:.1} us, min {:.1} us, mean {:.1} us per inference (target {}, one thread)",
        args.artifact.display(),
        report.runs,
        report.median_us,
        report.p90_us,
        report.min_us,
        report.mean_us,
        model.target()
    );
    print_ops(&report);
    Ok(true)
}

/// `--tract`: the same statistics for the ONNX model run by tract.
fn run_tract(args: &Args) -> anyhow::Result<bool> {
    let inputs = args
        .input
        .iter()
        .map(|path| Ok(whittle::data::read_npy(path)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let inputs = (!inputs.is_empty()).then_some(inputs.as_slice());
    let report =
        whittle::bench::tract::bench_tract(&args.artifact, inputs, args.runs, args.warmup)?;
    if args.json {
        out!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(true);
    }
    out!(
        "{}: {} runs, median {:.1} us, p90 {:.1} us, min {:.1} us, mean {:.1} us per inference (tract optimized plan, batch 1, one thread)",
        args.artifact.display(),
        report.runs,
        report.median_us,
        report.p90_us,
        report.min_us,
        report.mean_us
    );
    print_ops(&report);
    Ok(true)
}

/// The per-operator table.
fn print_ops(report: &whittle::bench::BenchReport) {
    out!(
        "{:>5}  {:<18} {:<40} {:<13} {:>10} {:>7}",
        "#",
        "op",
        "output",
        "kernel",
        "median us",
        "share"
    );
    for op in &report.ops {
        out!(
            "{:>5}  {:<18} {:<40} {:<13} {:>10.1} {:>6.1}%",
            op.index,
            op.op,
            op.output,
            op.kernel,
            op.median_us,
            100.0 * op.share
        );
    }
}
