//! `whittle run`: inference on files of samples.

use anyhow::{Context, bail};
use std::path::PathBuf;
use whittle::data;
use whittle::run::Runner;

#[derive(clap::Args)]
pub struct Args {
    /// The .wtl artifact.
    artifact: PathBuf,
    /// Input data: one .npy per model input (in order), or one .npz whose arrays are named
    /// after the inputs. The leading dimension counts samples.
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Output file: .npy (single output) or .npz (arrays named after the outputs).
    #[arg(long)]
    output: PathBuf,
    /// Also write every operator's output for the first sample to this .npz (physical
    /// layout, arrays named `<index>_<tensor>`), to find where results diverge.
    #[arg(long, value_name = "FILE")]
    layers: Option<PathBuf>,
    /// Also print the K highest-scoring classes of each sample (first output).
    #[arg(long, value_name = "K")]
    top: Option<usize>,
    /// Class names, one per line, for --top.
    #[arg(long, value_name = "FILE", requires = "top")]
    labels: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let artifact = std::fs::read(&args.artifact)
        .with_context(|| format!("reading {}", args.artifact.display()))?;
    let mut runner = Runner::new(&artifact)
        .with_context(|| format!("{} is not a valid artifact", args.artifact.display()))?;
    let model = runner.model();
    let input_names: Vec<String> = (0..model.input_count())
        .filter_map(|i| model.input(i))
        .map(|d| d.name.to_string())
        .collect();
    let output_names: Vec<String> = (0..model.output_count())
        .filter_map(|i| model.output(i))
        .map(|d| d.name.to_string())
        .collect();
    let mut arrays = Vec::new();
    for path in &args.input {
        arrays.extend(data::read_arrays(path)?);
    }
    let inputs = if arrays.len() == input_names.len()
        && args
            .input
            .iter()
            .all(|p| p.extension().is_none_or(|e| e != "npz"))
    {
        arrays.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    } else {
        input_names
            .iter()
            .enumerate()
            .map(
                |(i, name)| match arrays.iter().position(|(n, _)| n == name) {
                    Some(p) => Ok(arrays[p].1.clone()),
                    None if input_names.len() == 1 && arrays.len() == 1 => Ok(arrays[0].1.clone()),
                    None => bail!(
                        "no array named '{name}' (model input {i}) in the input files; found {:?}",
                        arrays.iter().map(|(n, _)| n).collect::<Vec<_>>()
                    ),
                },
            )
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let outputs = runner.run(&inputs)?;
    if let Some(path) = &args.layers {
        let layers = runner.run_layers(&inputs)?;
        let named: Vec<(String, whittle::Tensor)> = layers
            .into_iter()
            .map(|l| {
                (
                    format!("{:03}_{}", l.index, l.name.replace('/', "_")),
                    l.tensor,
                )
            })
            .collect();
        data::write_npz(path, &named)?;
    }
    let named: Vec<(String, whittle::Tensor)> = output_names.into_iter().zip(outputs).collect();
    data::write_arrays(&args.output, &named)?;
    let shapes: Vec<String> = named
        .iter()
        .map(|(n, t)| format!("{n} {:?}", t.shape))
        .collect();
    out!(
        "ran {} through {}; wrote {}: {}",
        args.input
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.artifact.display(),
        args.output.display(),
        shapes.join(", ")
    );
    if let (Some(k), Some((_, scores))) = (args.top, named.first()) {
        let names: Vec<String> = match &args.labels {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?
                .lines()
                .map(str::to_string)
                .collect(),
            None => Vec::new(),
        };
        print_top(scores, k, &names);
    }
    Ok(true)
}

/// Prints the `k` best classes of each row of a `[samples, classes]` output.
fn print_top(scores: &whittle::Tensor, k: usize, names: &[String]) {
    let classes = *scores.shape.last().unwrap_or(&1);
    let values = scores.to_f32();
    for (sample, row) in values.chunks(classes.max(1)).enumerate() {
        let mut order: Vec<usize> = (0..row.len()).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
        let best: Vec<String> = order
            .iter()
            .take(k)
            .map(|&c| {
                let name = names
                    .get(c)
                    .cloned()
                    .unwrap_or_else(|| format!("class {c}"));
                format!("{name} {:.3}", row[c])
            })
            .collect();
        out!("  sample {sample}: {}", best.join(", "));
    }
}
