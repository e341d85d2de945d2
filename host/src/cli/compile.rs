//! `whittle compile`: ONNX -> .wtl, in float or quantized to int8.

use super::{DataScaling, ModelArgs, bytes};
use anyhow::{Context, bail};
use std::path::PathBuf;
use whittle::quantize::{Method, QuantizeOptions};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Output artifact.
    #[arg(short, long)]
    output: PathBuf,
    /// Quantize after training: `int8`.
    #[arg(long, value_name = "SCHEME")]
    quantize: Option<String>,
    /// Calibration samples (.npz/.npy; leading dimension = samples).
    #[arg(long, value_name = "FILE")]
    calib: Option<PathBuf>,
    /// Array of the calibration file to use (default: `x`, or the one named after the input).
    #[arg(long, value_name = "KEY")]
    calib_key: Option<String>,
    /// How activation ranges are chosen: minmax, avg-minmax, percentile[:P], mse, entropy.
    #[arg(long, value_name = "METHOD", default_value = "mse")]
    calib_method: String,
    /// Use at most N calibration samples.
    #[arg(long, value_name = "N")]
    calib_samples: Option<usize>,
    /// Correct layer biases by the mean error quantization introduces (on the calibration data).
    #[arg(long)]
    bias_correction: bool,
    /// Model inputs and outputs: float (quantized at the boundary) or raw int8.
    #[arg(long, value_name = "float|int8", default_value = "float")]
    io: String,
    /// Keep this layer (a node name, as `check` lists them) and its output in float32;
    /// repeatable.
    #[arg(long = "keep-float", value_name = "NODE")]
    keep_float: Vec<String>,
    /// Fail if any operator would run in float.
    #[arg(long)]
    require_integer: bool,
    /// Store int8 convolution and fully connected weights sparse (bitmap of nonzero positions
    /// plus the nonzero values) where that takes fewer bytes: auto, or off (the default) for
    /// always dense. Sparse saves flash but runs slower and needs the runtime's `sparse` feature.
    #[arg(long, value_name = "off|auto", default_value = "off", value_parser = whittle::lower::sparse::SparseMode::parse)]
    sparse: whittle::lower::sparse::SparseMode,
    /// Embed N validation vectors (inputs, expected outputs, per-layer checksums) for the
    /// on-device self-test; needs --validation-data.
    #[arg(long, value_name = "N")]
    embed_validation: Option<usize>,
    /// Samples for --embed-validation (.npz/.npy; the first N are used).
    #[arg(long, value_name = "FILE")]
    validation_data: Option<PathBuf>,
    /// Array of the validation file to use (default: `x`, or the one named after the input).
    #[arg(long, value_name = "KEY")]
    validation_key: Option<String>,
    #[command(flatten)]
    scaling: DataScaling,
}

fn quantize_options(
    args: &Args,
    input_names: &[String],
) -> anyhow::Result<Option<QuantizeOptions>> {
    match args.quantize.as_deref() {
        None => {
            if args.calib.is_some() || args.bias_correction || !args.keep_float.is_empty() {
                bail!("--calib, --bias-correction and --keep-float need --quantize int8");
            }
            Ok(None)
        }
        Some("int8") => {
            let path = args
                .calib
                .as_ref()
                .context("--quantize int8 needs calibration data: --calib FILE.npz")?;
            let arrays = whittle::data::read_arrays(path)?;
            let picked =
                whittle::data::pick_inputs(&arrays, input_names, args.calib_key.as_deref())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let calibration = picked
                .iter()
                .map(|t| args.scaling.apply(t))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("calibration data {}", path.display()))?;
            let int8_io = match args.io.as_str() {
                "float" => false,
                "int8" => true,
                other => bail!("--io takes float or int8, not '{other}'"),
            };
            Ok(Some(QuantizeOptions {
                calibration,
                method: Method::parse(&args.calib_method).map_err(anyhow::Error::msg)?,
                samples: args.calib_samples,
                bias_correction: args.bias_correction,
                int8_io,
                keep_float: args.keep_float.clone(),
                calibrated: None,
            }))
        }
        Some(other) => bail!("--quantize takes int8, not '{other}'"),
    }
}

/// The samples and count of `--embed-validation`, converted as the data flags say.
fn validation_inputs(
    args: &Args,
    input_names: &[String],
) -> anyhow::Result<Option<(Vec<whittle::Tensor>, usize)>> {
    match (args.embed_validation, &args.validation_data) {
        (None, None) => Ok(None),
        (None, Some(_)) => bail!("--validation-data needs --embed-validation N"),
        (Some(_), None) => bail!("--embed-validation needs samples: --validation-data FILE.npz"),
        (Some(count), Some(path)) => {
            let arrays = whittle::data::read_arrays(path)?;
            let picked =
                whittle::data::pick_inputs(&arrays, input_names, args.validation_key.as_deref())
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            let inputs = picked
                .iter()
                .map(|t| args.scaling.apply(t))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(|| format!("validation data {}", path.display()))?;
            Ok(Some((inputs, count)))
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let mut opts = args.model.options()?;
    let model = whittle::compile::load_onnx(&args.model.model)?;
    let input_names = whittle::compile::input_names(&model);
    opts.quantize = quantize_options(&args, &input_names)?;
    opts.require_integer = args.require_integer;
    opts.sparse = args.sparse;
    let validation = validation_inputs(&args, &input_names)?;
    let mut compiled = whittle::compile(&model, args.model.model.parent(), &opts)
        .map_err(|e| match (&e, &args.calib) {
            (whittle::CompileError::Calibration(_), Some(path)) => {
                anyhow::Error::new(e).context(path.display().to_string())
            }
            _ => anyhow::Error::new(e),
        })
        .with_context(|| format!("compiling {}", args.model.model.display()))?;
    // Empty tensors are valid ONNX, but an artifact whose input or output holds no data
    // cannot be fed or read on a device: a model like that is a mistake.
    let graph = &compiled.graph;
    for (role, &id) in graph
        .inputs
        .iter()
        .map(|i| ("input", i))
        .chain(graph.outputs.iter().map(|o| ("output", o)))
    {
        let shape = graph.shape(id);
        if shape.contains(&0) {
            bail!(
                "{}: {role} '{}' has shape {shape:?}: a zero dimension, so it holds no data",
                args.model.model.display(),
                graph.values[id].name
            );
        }
    }
    if let Some((inputs, count)) = validation {
        compiled.artifact = whittle::validate::embed(&compiled, &opts.target.name, &inputs, count)?;
        if let Some(flash) = opts.target.flash_bytes
            && compiled.artifact.len() as u64 > flash
        {
            bail!(
                "with {count} validation vector(s) the artifact takes {} bytes of flash, {} more than the {flash} target {} has",
                compiled.artifact.len(),
                compiled.artifact.len() as u64 - flash,
                opts.target.name
            );
        }
    }
    whittle::artifact::write_atomically(&args.output, &compiled.artifact)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let plan = &compiled.plan;
    // As written: packed for the target's layout where it packs.
    let weights: usize = whittle::pack::packed(&compiled.program)
        .map_err(anyhow::Error::msg)?
        .weights
        .iter()
        .map(|w| w.len())
        .sum();
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
    let sparse = compiled
        .program
        .ops
        .iter()
        .filter(|op| op.kind.name().ends_with("Sparse"))
        .count();
    if sparse > 0 {
        out!("  sparse weights: {sparse} op(s) (whittle inspect lists them)");
    }
    let target_layout = opts.target.layout();
    if compiled.program.layout != target_layout {
        let why = if whittle::pack::packs_any(&compiled.program, target_layout) {
            "would not fit its flash"
        } else {
            "packs no operator of this model"
        };
        out!(
            "  weight layout: {} (the target's {} {why})",
            compiled.program.layout.name(),
            target_layout.name()
        );
    }
    for node in &compiled.float_nodes {
        out!("  float: {node}");
    }
    Ok(true)
}
