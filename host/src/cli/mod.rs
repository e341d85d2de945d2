//! Command-line interface: argument parsing and one module per command.

/// `println!` that ends the process quietly when stdout is closed (`whittle ... | head`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::emit(format_args!($($arg)*))
    };
}

mod bench;
mod bundle;
mod check;
mod compare;
mod compile;
mod distill;
mod emit;
mod eval;
mod export;
mod inspect;
mod pipeline;
mod prune;
mod run;
mod size;
mod targets;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// whittle: compile ONNX models into compact artifacts for microcontrollers and edge boards.
#[derive(Parser)]
#[command(name = "whittle", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Host latency of an artifact per inference (median, p90) and per operator.
    Bench(bench::Args),
    /// Pack an artifact, firmware images and the gate report into one signed, reproducible
    /// bundle for a factory station.
    Bundle(bundle::BundleArgs),
    /// List which nodes of an ONNX model compile, and why the others do not.
    Check(check::Args),
    /// Compare an artifact with its source model: agreement, KL divergence, per-layer SQNR.
    Compare(compare::Args),
    /// Compile an ONNX model into a .wtl artifact.
    Compile(compile::Args),
    /// Fine-tune a (pruned) float ONNX model towards a teacher's soft targets (knowledge
    /// distillation) and write it back with the trained weights.
    Distill(distill::Args),
    /// Write an artifact as an ELF object, a C header or a Rust snippet to build into firmware.
    Emit(emit::Args),
    /// Accuracy of an artifact on labelled data: top-1, top-5, per class.
    Eval(eval::Args),
    /// Write an artifact back out as an ONNX model (int8 operators in QDQ form) that other
    /// runtimes run.
    #[command(name = "export-onnx")]
    ExportOnnx(export::Args),
    /// Show what an artifact holds: ops, tensors, sizes, memory plan.
    Inspect(inspect::Args),
    /// Make an Ed25519 key pair for signing bundles.
    Keygen(bundle::KeygenArgs),
    /// Run the compression pipeline of a pipeline file as a release gate: stages, metrics
    /// against the float baseline, gates, fallback, reports. Exit status 0: every gate passed;
    /// 1: a gate failed; 2: bad input or an error.
    Pipeline(pipeline::Args),
    /// Remove whole channels from a float ONNX model (every coupled tensor with them) and write
    /// the smaller model as ONNX; optionally measure each layer's sensitivity on data.
    Prune(prune::Args),
    /// Run an artifact on input data (.npy/.npz) through the runtime.
    Run(run::Args),
    /// Flash and RAM of a firmware ELF: model, runtime and app, against a target's budgets.
    /// Exit status 0: fits (or no target); 1: over budget; 2: bad input or an error.
    Size(size::Args),
    /// List the built-in target profiles.
    Targets(targets::Args),
    /// Write a verified bundle's files into a new directory, with .bin and .hex images of
    /// each device firmware for flashers.
    Unpack(bundle::UnpackArgs),
    /// Check a bundle offline: signature, every file's hash, no missing or extra file,
    /// versions, target. Exit status 0: verified; 10-16: the failure (see docs/bundles.md);
    /// 2: unreadable input.
    Verify(bundle::VerifyArgs),
}

/// Exit status of a command that ran but whose verdict is negative (e.g. unsupported nodes).
const EXIT_NEGATIVE: u8 = 1;
/// Exit status for invalid input or a failure.
const EXIT_ERROR: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(a) => bench::run(a),
        Command::Bundle(a) => bundle::bundle(a),
        Command::Check(a) => check::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Compile(a) => compile::run(a),
        Command::Distill(a) => distill::run(a),
        Command::Emit(a) => emit::run(a),
        Command::Eval(a) => eval::run(a),
        Command::ExportOnnx(a) => export::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Keygen(a) => bundle::keygen(a),
        Command::Pipeline(a) => pipeline::run(a),
        Command::Prune(a) => prune::run(a),
        Command::Run(a) => run::run(a),
        Command::Size(a) => size::run(a),
        Command::Targets(a) => targets::run(a),
        Command::Unpack(a) => bundle::unpack(a),
        Command::Verify(a) => return bundle::verify(a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(EXIT_NEGATIVE),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Writes one line to stdout; a closed pipe ends the process with success.
pub fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if let Err(e) = writeln!(std::io::stdout().lock(), "{args}")
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Formats a byte count with thousands separators.
pub fn bytes(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Options shared by `check` and `compile`.
#[derive(clap::Args)]
pub struct ModelArgs {
    /// The ONNX model.
    pub model: std::path::PathBuf,
    /// Target profile name (see `whittle targets`) or a profile .toml file.
    #[arg(long, default_value = "generic")]
    pub target: String,
    /// Shape for an input with dynamic dimensions: `1,49,10,1` for the first input or
    /// `name=1,49,10,1`; repeatable.
    #[arg(long = "input-shape", value_parser = whittle::compile::parse_input_shape)]
    pub input_shapes: Vec<(Option<String>, Vec<usize>)>,
}

impl ModelArgs {
    pub fn options(&self) -> anyhow::Result<whittle::CompileOptions> {
        let target = whittle::targets::Target::resolve(&self.target).map_err(anyhow::Error::msg)?;
        let import = whittle::import::ImportOptions {
            input_shapes: self.input_shapes.clone(),
            frozen_inputs: Vec::new(),
        };
        Ok(whittle::CompileOptions {
            import,
            target,
            quantize: None,
            require_integer: false,
            sparse: Default::default(),
        })
    }
}

/// The arrays of a data file that feed the model's inputs, converted as the flags say.
pub fn model_inputs(
    runner: &whittle::run::Runner,
    arrays: &[(String, whittle::Tensor)],
    key: Option<&str>,
    scaling: &DataScaling,
) -> anyhow::Result<Vec<whittle::Tensor>> {
    let model = runner.model();
    let names: Vec<String> = (0..model.input_count())
        .filter_map(|i| model.input(i))
        .map(|d| d.name.to_string())
        .collect();
    let picked = whittle::data::pick_inputs(arrays, &names, key).map_err(anyhow::Error::msg)?;
    picked.iter().map(|t| scaling.apply(t)).collect()
}

/// The label array `key` of a data file, when it has one, checked to hold one label for each
/// of the `samples` input samples.
pub fn labels(
    arrays: &[(String, whittle::Tensor)],
    key: &str,
    samples: usize,
) -> anyhow::Result<Option<Vec<i64>>> {
    let Some((_, t)) = arrays.iter().find(|(n, _)| n == key) else {
        return Ok(None);
    };
    if t.len() != samples {
        anyhow::bail!(
            "{samples} samples and {} labels (array '{key}' of shape {:?})",
            t.len(),
            t.shape
        );
    }
    Ok(Some(t.to_i64()))
}

/// Conversion of integer data files to a float model's input values.
#[derive(clap::Args)]
pub struct DataScaling {
    /// Scale of integer input data: the model receives `(q - zero_point) * scale`.
    #[arg(long, value_name = "S")]
    pub input_scale: Option<f32>,
    /// Zero point of integer input data (with --input-scale).
    #[arg(long, value_name = "Z", allow_hyphen_values = true)]
    pub input_zero_point: Option<i64>,
}

impl DataScaling {
    /// Converts `t` as the flags say.
    pub fn apply(&self, t: &whittle::Tensor) -> anyhow::Result<whittle::Tensor> {
        whittle::data::scale_data(t, self.input_scale, self.input_zero_point)
            .map_err(anyhow::Error::msg)
    }
}
