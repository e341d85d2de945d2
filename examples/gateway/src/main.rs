//! `gateway`: classifies samples with whittle artifacts on an ARM64 Linux gateway (or any host
//! with `std`), through the same `whittle-runtime` that runs them on microcontrollers.
//!
//! ```text
//! gateway [--labels FILE] MODEL.wtl [INPUT ...]
//! gateway [--labels FILE] --model MODEL.wtl [--model MODEL.wtl ...] [INPUT ...]
//! ```
//!
//! Every model is read and verified (`Model::load`) before anything runs; then every input is
//! classified by every model. An INPUT is a `.npy` file (float32 or int8, shape `[N, ...]`), or
//! `-` for standard input (whitespace-separated numbers, one sample per line); with no INPUT,
//! standard input is read. Exit status 0 on success, 2 on any error (`error: ...` on stderr).

mod classify;
mod input;
mod npy;

use classify::{Artifact, Classifier, dtype_name};
use input::Batch;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use whittle_runtime::Model;

const USAGE: &str = "\
usage: gateway [--labels FILE] MODEL.wtl [INPUT ...]
       gateway [--labels FILE] --model MODEL.wtl [--model MODEL.wtl ...] [INPUT ...]

Classifies every INPUT with every model and prints `sample <i>: class <k> score <s>` per
sample, then the median inference latency.

  MODEL.wtl        a whittle artifact (the first positional argument when no --model is given)
  --model FILE     a whittle artifact; repeat it to run several models
  --labels FILE    class names, one per line, printed instead of class indices
  INPUT            a .npy file (float32 or int8, shape [N, ...]), or - for standard input:
                   whitespace-separated numbers, one sample per line (the default)
  -h, --help       this text

Exit status: 0 success, 2 error.";

/// Where one batch of samples comes from.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    Stdin,
    File(PathBuf),
}

/// The parsed command line.
#[derive(Debug, Default)]
struct Options {
    models: Vec<PathBuf>,
    inputs: Vec<Source>,
    labels: Option<PathBuf>,
    help: bool,
}

/// Class names read from a labels file.
struct Labels {
    path: String,
    names: Vec<String>,
}

fn main() -> ExitCode {
    let mut out = std::io::stdout().lock();
    let result = parse_args(std::env::args_os().skip(1)).and_then(|opts| {
        if opts.help {
            writeln!(out, "{USAGE}").map_err(|e| format!("writing output: {e}"))
        } else {
            run(&opts, &mut out)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = out.flush();
            let _ = writeln!(std::io::stderr(), "error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Parses the arguments (without the program name).
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Options, String> {
    let mut opts = Options::default();
    let mut positional = Vec::new();
    let mut args = args.into_iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        if options_done {
            positional.push(arg);
            continue;
        }
        match arg.to_str() {
            Some("--") => options_done = true,
            Some("-h" | "--help") => opts.help = true,
            Some("--model") => opts.models.push(value(&mut args, "--model")?),
            Some("--labels") => {
                if opts.labels.replace(value(&mut args, "--labels")?).is_some() {
                    return Err("--labels given twice".into());
                }
            }
            Some(flag) if flag.starts_with('-') && flag != "-" => {
                return Err(format!("unknown option '{flag}'\n{USAGE}"));
            }
            _ => positional.push(arg),
        }
    }
    if opts.help {
        return Ok(opts);
    }
    let mut positional = positional.into_iter();
    if opts.models.is_empty() {
        let model = positional
            .next()
            .ok_or_else(|| format!("no model given\n{USAGE}"))?;
        opts.models.push(model.into());
    }
    opts.inputs = positional
        .map(|arg| match arg.to_str() {
            Some("-") => Source::Stdin,
            _ => Source::File(arg.into()),
        })
        .collect();
    if opts.inputs.is_empty() {
        opts.inputs.push(Source::Stdin);
    }
    if opts.inputs.iter().filter(|s| **s == Source::Stdin).count() > 1 {
        return Err("standard input ('-') given more than once".into());
    }
    Ok(opts)
}

/// The value following `flag`.
fn value(args: &mut impl Iterator<Item = OsString>, flag: &str) -> Result<PathBuf, String> {
    args.next()
        .map(PathBuf::from)
        .ok_or_else(|| format!("{flag} needs a file name"))
}

/// Verifies every model, reads every input, then classifies every input with every model.
fn run(opts: &Options, out: &mut impl Write) -> Result<(), String> {
    let labels = opts.labels.as_deref().map(read_labels).transpose()?;
    let artifacts = opts
        .models
        .iter()
        .map(|path| Artifact::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let models = artifacts
        .iter()
        .map(Artifact::load)
        .collect::<Result<Vec<_>, _>>()?;
    let batches = opts
        .inputs
        .iter()
        .map(|source| match source {
            Source::Stdin => input::from_text("<stdin>", std::io::stdin().lock()),
            Source::File(path) => input::from_npy(path),
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (artifact, model) in artifacts.iter().zip(&models) {
        classify_all(artifact.path(), model, &batches, labels.as_ref(), out)?;
    }
    Ok(())
}

/// Classifies every sample of `batches` with one model and prints the predictions and the
/// median latency.
fn classify_all(
    path: &str,
    model: &Model<'_>,
    batches: &[Batch],
    labels: Option<&Labels>,
    out: &mut impl Write,
) -> Result<(), String> {
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut classifier = Classifier::new(model, &mut arena).map_err(|e| format!("{path}: {e}"))?;
    if let Some(labels) = labels
        && labels.names.len() != classifier.classes()
    {
        return Err(format!(
            "{}: {} class names, but {path} has {} classes",
            labels.path,
            labels.names.len(),
            classifier.classes()
        ));
    }
    let encoded = batches
        .iter()
        .map(|batch| classifier.encode(batch))
        .collect::<Result<Vec<_>, _>>()?;
    let write_err = |e: std::io::Error| format!("writing output: {e}");
    let (input, output) = (classifier.input(), classifier.output());
    writeln!(
        out,
        "model {path}: target {}, input {} {} {:?}, output {} {} {:?}, arena {} bytes",
        model.target(),
        input.name,
        dtype_name(input.dtype),
        input.shape.dims(),
        output.name,
        dtype_name(output.dtype),
        output.shape.dims(),
        model.arena_bytes()
    )
    .map_err(write_err)?;

    let mut times = Vec::new();
    for (batch, bytes) in batches.iter().zip(&encoded) {
        let samples = bytes.chunks_exact(classifier.sample_bytes());
        let count = plural(samples.len(), "sample");
        writeln!(out, "input {}: {count}", batch.source).map_err(write_err)?;
        for (i, sample) in samples.enumerate() {
            let (prediction, elapsed) = classifier.classify(sample)?;
            times.push(elapsed);
            // The labels file was checked to name every class.
            let class = match labels.and_then(|l| l.names.get(prediction.class)) {
                Some(name) => name.clone(),
                None => prediction.class.to_string(),
            };
            writeln!(
                out,
                "sample {i}: class {class} score {:.4}",
                prediction.score
            )
            .map_err(write_err)?;
        }
    }
    match median(&mut times) {
        Some(m) => writeln!(
            out,
            "latency: median {:.1} us per inference ({})",
            m.as_secs_f64() * 1e6,
            plural(times.len(), "inference")
        ),
        None => writeln!(out, "latency: no inferences"),
    }
    .map_err(write_err)
}

/// Reads class names, one per line (surrounding whitespace and trailing blank lines ignored).
fn read_labels(path: &Path) -> Result<Labels, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
    let mut names: Vec<String> = text.lines().map(|l| l.trim().to_string()).collect();
    while names.last().is_some_and(String::is_empty) {
        names.pop();
    }
    if names.is_empty() {
        return Err(format!("{name}: no class names"));
    }
    if let Some(blank) = names.iter().position(String::is_empty) {
        return Err(format!("{name} line {}: empty class name", blank + 1));
    }
    Ok(Labels { path: name, names })
}

/// `1 sample`, `8 samples`.
fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// The median of `times` (the mean of the middle two for an even count).
fn median(times: &mut [Duration]) -> Option<Duration> {
    times.sort_unstable();
    let mid = times.len() / 2;
    match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[mid]),
        _ => Some((times[mid - 1] + times[mid]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn models_are_positional_or_repeated() {
        let opts = parse(&["m.wtl", "a.npy", "-"]).unwrap();
        assert_eq!(opts.models, [PathBuf::from("m.wtl")]);
        assert_eq!(opts.inputs, [Source::File("a.npy".into()), Source::Stdin]);
        let opts = parse(&[
            "--model", "a.wtl", "--labels", "l.txt", "--model", "b.wtl", "x.npy",
        ])
        .unwrap();
        assert_eq!(opts.models.len(), 2);
        assert_eq!(opts.inputs, [Source::File("x.npy".into())]);
        assert_eq!(opts.labels, Some(PathBuf::from("l.txt")));
        assert_eq!(parse(&["m.wtl"]).unwrap().inputs, [Source::Stdin]);
    }

    #[test]
    fn bad_command_lines_are_errors() {
        assert!(parse(&[]).unwrap_err().starts_with("no model given"));
        assert!(
            parse(&["--fast", "m.wtl"])
                .unwrap_err()
                .contains("'--fast'")
        );
        assert!(
            parse(&["m.wtl", "--labels"])
                .unwrap_err()
                .contains("--labels needs")
        );
        assert!(parse(&["m.wtl", "-", "-"]).is_err());
        assert!(parse(&["--help"]).unwrap().help);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let ms = Duration::from_millis;
        assert_eq!(median(&mut [ms(3), ms(1), ms(2)]), Some(ms(2)));
        assert_eq!(
            median(&mut [ms(4), ms(1), ms(2), ms(3)]),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(median(&mut []), None);
    }
}
