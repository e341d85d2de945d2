//! `whittle prune`: structured channel pruning of a float ONNX model, written back as ONNX,
//! with an optional per-group sensitivity report; or, with `--sparsity`, unstructured
//! magnitude pruning (weights set to zero, shapes kept).

use super::{DataScaling, ModelArgs, bytes};
use anyhow::{Context, bail};
use prost::Message;
use std::path::PathBuf;
use whittle::prune::sensitivity::{DEFAULT_RATIOS, EvalData, Evaluator, sensitivity};
use whittle::prune::sparsity::SparsityOptions;
use whittle::prune::{Amount, Analysis, Criterion, PruneOptions, Scope, taylor};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("amount").args(["ratio", "target_macs", "target_flash", "sparsity"])))]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// The pruned ONNX model to write.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Share of every group's channels to remove (0..1).
    #[arg(long, value_name = "R")]
    ratio: Option<f64>,
    /// Share of the original MACs to keep (0..1]; the ratio is searched for.
    #[arg(long, value_name = "F")]
    target_macs: Option<f64>,
    /// Flash budget for the float32 parameters (4 bytes per weight, bias and BatchNorm value of
    /// the ONNX model), e.g. 16KiB or 12000; the ratio is searched for.
    #[arg(long, value_name = "SIZE", value_parser = whittle::pipeline::config::parse_size)]
    target_flash: Option<u64>,
    /// Unstructured pruning instead of channels: set this share (0..1) of the Conv, Gemm and
    /// MatMul weights to zero, the smallest magnitudes of each layer (of all layers with
    /// --global). Shapes stay; an int8 compilation stores the zeros sparse where that is smaller.
    #[arg(long, value_name = "S", conflicts_with_all = ["sensitivity", "by_sensitivity", "round_to"])]
    sparsity: Option<f64>,
    /// How channels are rated: l1, l2, bn-scale (BatchNorm gamma, before folding) or taylor
    /// (first-order Taylor importance, gradient x activation, measured on --data).
    #[arg(long, value_name = "NAME", default_value = "l1", value_parser = Criterion::parse)]
    criterion: Criterion,
    /// Rank channels over all groups at once instead of removing the same share per group.
    #[arg(long)]
    global: bool,
    /// Every pruned group keeps a multiple of N channels (the filters the kernels compute at
    /// once). Default: the --target profile's channel multiple (`whittle targets`).
    #[arg(long, value_name = "N")]
    round_to: Option<usize>,
    /// Data (.npz) to measure on: top-1 against labels, or agreement with the unpruned model
    /// when it has none; with --criterion taylor also the samples the gradients are taken on.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Array holding the inputs (default: `x` or the one named after the model input).
    #[arg(long, value_name = "KEY")]
    x_key: Option<String>,
    /// Array holding the labels.
    #[arg(long, value_name = "KEY", default_value = "y")]
    y_key: String,
    /// Use at most N samples of --data (taylor: the first 256 when not given).
    #[arg(long, value_name = "N")]
    samples: Option<usize>,
    /// Prune each group alone at several ratios, measure on --data and write the drops as JSON.
    #[arg(long, value_name = "FILE", requires = "data")]
    sensitivity: Option<PathBuf>,
    /// With --target-macs or --target-flash: give each group its own ratio, the combination of
    /// measured points with the least summed drop that meets the target (instead of one ratio
    /// for all).
    #[arg(long, requires = "sensitivity")]
    by_sensitivity: bool,
    /// Ratios for --sensitivity, comma-separated.
    #[arg(long, value_name = "R,R,...", value_delimiter = ',')]
    sensitivity_ratios: Vec<f64>,
    #[command(flatten)]
    scaling: DataScaling,
}

fn eval_data(
    args: &Args,
    model: &whittle::onnx::pb::ModelProto,
) -> anyhow::Result<Option<EvalData>> {
    let Some(path) = &args.data else {
        return Ok(None);
    };
    let arrays = whittle::data::read_arrays(path)?;
    let names = whittle::compile::input_names(model);
    let picked = whittle::data::pick_inputs(&arrays, &names, args.x_key.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let samples = picked.first().and_then(|t| t.shape.first()).copied();
    let labels = super::labels(&arrays, &args.y_key, samples.unwrap_or(0))
        .with_context(|| format!("data {}", path.display()))?;
    let limit = |t: &whittle::Tensor| match args.samples {
        Some(n) => t.rows(0, n),
        None => t.clone(),
    };
    let inputs = picked
        .iter()
        .map(|t| args.scaling.apply(&limit(t)))
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("data {}", path.display()))?;
    let labels = labels.map(|y| y[..args.samples.unwrap_or(y.len()).min(y.len())].to_vec());
    Ok(Some(EvalData { inputs, labels }))
}

fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// `--sparsity`: magnitude pruning of single weights, with the accuracy before and after
/// when --data is given.
fn run_sparsity(args: &Args, sparsity: f64) -> anyhow::Result<bool> {
    let Some(output) = &args.output else {
        bail!("give the pruned model's file: -o sparse.onnx");
    };
    let options = args.model.options()?;
    let path = &args.model.model;
    let model = whittle::compile::load_onnx(path)?;
    let opts = SparsityOptions {
        sparsity,
        global: args.global,
    };
    let pruned = whittle::prune::sparsity::sparsify(&model, path.parent(), &opts)?;
    let (mut total, mut zeros) = (0, 0);
    for l in &pruned.layers {
        out!(
            "  {:<32} {:<6} {:>7} weights, zeros {:>6.2}% -> {:>6.2}%",
            l.tensor,
            l.op,
            bytes(l.weights),
            percent(l.zeros_before as u64, l.weights as u64),
            percent(l.zeros_after as u64, l.weights as u64)
        );
        total += l.weights;
        zeros += l.zeros_after;
    }
    out!(
        "{} of {} weights are zero ({:.2}%)",
        bytes(zeros),
        bytes(total),
        percent(zeros as u64, total as u64)
    );
    if let Some(data) = eval_data(args, &model)? {
        let evaluator = Evaluator::new(&model, path.parent(), &data, &options)?;
        let before = evaluator.measure(&model, "the baseline")?;
        let after = evaluator.measure(&pruned.model, "the chosen sparsity")?;
        out!(
            "{} on {} samples: {:.2}% -> {:.2}% (float, before any fine-tuning)",
            evaluator.metric(),
            evaluator.samples(),
            100.0 * before,
            100.0 * after
        );
    }
    whittle::artifact::write_atomically(output, &pruned.model.encode_to_vec())
        .with_context(|| format!("writing {}", output.display()))?;
    out!("wrote {}", output.display());
    Ok(true)
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    if let Some(sparsity) = args.sparsity {
        return run_sparsity(&args, sparsity);
    }
    let amount = match (args.ratio, args.target_macs, args.target_flash) {
        (Some(r), _, _) => Some(Amount::Ratio(r).check()?),
        (None, Some(t), _) => Some(Amount::TargetMacs(t).check()?),
        (None, None, Some(b)) => Some(Amount::TargetFlash(b).check()?),
        (None, None, None) => None,
    };
    match (&amount, &args.output) {
        (Some(_), None) => bail!("give the pruned model's file: -o pruned.onnx"),
        (None, Some(_)) => {
            bail!(
                "say how much to prune: --ratio R, --target-macs F or --target-flash SIZE (channels), or --sparsity S (single weights)"
            )
        }
        (None, None) if args.sensitivity.is_none() => {
            bail!(
                "nothing to do: give -o with --ratio, --target-macs or --target-flash, or --sensitivity"
            )
        }
        _ => {}
    }
    if args.by_sensitivity
        && !matches!(amount, Some(Amount::TargetMacs(_) | Amount::TargetFlash(_)))
    {
        bail!("--by-sensitivity needs --target-macs F or --target-flash SIZE");
    }
    if args.criterion == Criterion::Taylor && args.data.is_none() {
        bail!(
            "--criterion taylor measures gradients on samples: give --data FILE.npz (the first {} are used unless --samples says otherwise)",
            taylor::DEFAULT_SAMPLES
        );
    }
    if args.samples == Some(0) {
        bail!("--samples must be at least 1");
    }
    let round_to = match args.round_to {
        Some(n) => n,
        None => {
            whittle::targets::Target::resolve(&args.model.target)
                .map_err(anyhow::Error::msg)?
                .channel_multiple as usize
        }
    };
    let ratios = if args.sensitivity_ratios.is_empty() {
        DEFAULT_RATIOS.to_vec()
    } else {
        args.sensitivity_ratios.clone()
    };
    if let Some(bad) = ratios.iter().find(|r| !(0.0..1.0).contains(*r)) {
        bail!("--sensitivity-ratios must be in [0, 1), not {bad}");
    }
    let options = args.model.options()?;
    let path = &args.model.model;
    let model = whittle::compile::load_onnx(path)?;
    let dir = path.parent();
    let analysis = Analysis::new(&model, dir, &options.import)?;
    let data = eval_data(&args, &model)?;
    let evaluator = data
        .as_ref()
        .map(|d| Evaluator::new(&model, dir, d, &options))
        .transpose()?;
    let prunable = analysis
        .groups()
        .iter()
        .filter(|g| g.prunable() > 0)
        .count();
    out!(
        "{}: {} groups ({prunable} prunable), {} MACs, {} weights",
        path.display(),
        analysis.groups().len(),
        bytes(analysis.baseline_macs() as usize),
        bytes(whittle::prune::parameter_count(&model))
    );

    let scores = analysis.scores_on(
        args.criterion,
        data.as_ref(),
        args.samples.unwrap_or(taylor::DEFAULT_SAMPLES),
    )?;
    let mut report = None;
    if let (Some(report_path), Some(evaluator)) = (&args.sensitivity, &evaluator) {
        let bar = whittle::progress::bar(
            (ratios.len() * analysis.groups().len()) as u64,
            "sensitivity",
        );
        let sens = sensitivity(
            &analysis,
            &scores,
            args.criterion,
            evaluator,
            &ratios,
            round_to,
            || bar.inc(1),
        )?;
        bar.finish_and_clear();
        let json = serde_json::to_string_pretty(&sens)?;
        whittle::artifact::write_atomically(report_path, json.as_bytes())
            .with_context(|| format!("writing {}", report_path.display()))?;
        out!(
            "sensitivity ({} {:.2}% on {} samples): wrote {}",
            sens.metric,
            100.0 * sens.baseline,
            sens.samples,
            report_path.display()
        );
        for g in &sens.groups {
            let worst = g.points.iter().map(|p| p.drop).fold(0.0f64, f64::max);
            out!(
                "  {:<32} {:>4} channels, {:>4} prunable, largest drop {:.2} points",
                g.group,
                g.channels,
                g.prunable,
                100.0 * worst
            );
        }
        report = Some(sens);
    }

    let (Some(amount), Some(output)) = (amount, &args.output) else {
        return Ok(true);
    };
    let (pruned, ratios) = match (&report, args.by_sensitivity) {
        (Some(report), true) => {
            let (ratios, selection) =
                analysis.select_by_sensitivity(&scores, report, amount, round_to)?;
            (analysis.pruned(selection, None)?, Some(ratios))
        }
        _ => {
            let options = PruneOptions {
                criterion: args.criterion,
                amount,
                scope: if args.global {
                    Scope::Global
                } else {
                    Scope::PerGroup
                },
                round_to,
            };
            (analysis.prune_with(&scores, &options)?, None)
        }
    };
    for (k, (name, before, after)) in pruned.groups.iter().enumerate() {
        let ratio = ratios
            .as_ref()
            .map(|r| format!(" (ratio {:.2})", r[k]))
            .unwrap_or_default();
        out!("  {name:<32} {before:>4} -> {after:>4} channels{ratio}");
    }
    let ratio = match pruned.ratio {
        Some(r) => format!("ratio {r:.3}"),
        None => "ratios per group".to_string(),
    };
    out!(
        "MACs {} -> {} ({:.1}% of the original; {ratio}), weights {} -> {}",
        bytes(pruned.macs_before as usize),
        bytes(pruned.macs_after as usize),
        percent(pruned.macs_after, pruned.macs_before),
        bytes(whittle::prune::parameter_count(&model)),
        bytes(whittle::prune::parameter_count(&pruned.model))
    );
    if let Amount::TargetFlash(budget) = amount {
        out!(
            "float32 parameters {} -> {} bytes (budget {})",
            bytes(analysis.baseline_parameter_bytes() as usize),
            bytes(analysis.parameter_bytes(&pruned.selection) as usize),
            bytes(budget as usize)
        );
    }
    if let Some(evaluator) = &evaluator {
        let before = evaluator.measure(&model, "the baseline")?;
        let after = evaluator.measure(&pruned.model, "the chosen ratio")?;
        out!(
            "{} on {} samples: {:.2}% -> {:.2}% (before any fine-tuning)",
            evaluator.metric(),
            evaluator.samples(),
            100.0 * before,
            100.0 * after
        );
    }
    whittle::artifact::write_atomically(output, &pruned.model.encode_to_vec())
        .with_context(|| format!("writing {}", output.display()))?;
    out!("wrote {}", output.display());
    Ok(true)
}
