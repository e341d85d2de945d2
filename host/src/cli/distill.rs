//! `whittle distill`: fine-tunes a (pruned) student towards a teacher's soft targets and writes
//! the trained weights back into the student's ONNX model.

use super::{DataScaling, bytes};
use anyhow::{Context, bail};
use prost::Message;
use std::path::{Path, PathBuf};
use whittle::distill::qat::{QatOptions, parse_scheme};
use whittle::distill::{Data, DistillOptions, Optimizer, Student, distill};
use whittle::quantize::Method;

fn parse_qat(s: &str) -> Result<String, String> {
    parse_scheme(s).map(|()| s.to_string())
}

#[derive(clap::Args)]
pub struct Args {
    /// The student ONNX model (for example a pruned copy of the teacher).
    student: PathBuf,
    /// The teacher ONNX model whose outputs the student learns.
    #[arg(long)]
    teacher: PathBuf,
    /// Training data (.npz): inputs, and labels under --y-key when present.
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Validation data (.npz) measured after every epoch.
    #[arg(long, value_name = "FILE")]
    val: Option<PathBuf>,
    /// The distilled ONNX model to write.
    #[arg(short, long)]
    output: PathBuf,
    /// Passes over the data.
    #[arg(long, value_name = "N", default_value_t = 10)]
    epochs: usize,
    /// Softmax temperature of the KL term.
    #[arg(long, value_name = "T", default_value_t = 4.0)]
    temperature: f64,
    /// Weight of the KL term; 1 - A goes to cross-entropy on the labels (KL only without labels).
    #[arg(long, value_name = "A", default_value_t = 0.7)]
    alpha: f64,
    /// Peak learning rate, decayed along a cosine (default 1e-3 for adam, 1e-2 for sgd).
    #[arg(long, value_name = "LR")]
    lr: Option<f64>,
    /// Samples per step.
    #[arg(long, value_name = "B", default_value_t = 64)]
    batch: usize,
    /// Seed of the shuffling.
    #[arg(long, value_name = "S", default_value_t = 0)]
    seed: u64,
    /// adam or sgd (momentum 0.9).
    #[arg(long, value_name = "NAME", default_value = "adam", value_parser = Optimizer::parse)]
    optimizer: Optimizer,
    /// Quantization-aware training: `int8` trains the student as `whittle compile --quantize
    /// int8 --calib DATA` will compute it (fake-quantized weights and activations).
    #[arg(long, value_name = "SCHEME", value_parser = parse_qat)]
    qat: Option<String>,
    /// With --qat: how activation ranges are chosen, as `compile --calib-method` (default mse).
    #[arg(long, value_name = "METHOD", value_parser = Method::parse)]
    calib_method: Option<Method>,
    /// With --qat: calibrate on at most the first N training samples, as `compile
    /// --calib-samples`.
    #[arg(long, value_name = "N")]
    calib_samples: Option<usize>,
    /// Keep every weight that is exactly zero at zero while training, so that the sparsity of
    /// a `whittle prune --sparsity` model survives (and `compile` can still store it sparse).
    #[arg(long)]
    keep_zeros: bool,
    /// Array holding the inputs (default: `x` or the one named after the model input).
    #[arg(long, value_name = "KEY")]
    x_key: Option<String>,
    /// Array holding the labels.
    #[arg(long, value_name = "KEY", default_value = "y")]
    y_key: String,
    /// Shape for an input with dynamic dimensions other than the batch, as for `compile`.
    #[arg(long = "input-shape", value_parser = whittle::compile::parse_input_shape)]
    input_shapes: Vec<(Option<String>, Vec<usize>)>,
    #[command(flatten)]
    scaling: DataScaling,
}

fn read_data(
    args: &Args,
    path: &Path,
    model: &whittle::onnx::pb::ModelProto,
) -> anyhow::Result<Data> {
    let arrays = whittle::data::read_arrays(path)?;
    let names = whittle::compile::input_names(model);
    let picked = whittle::data::pick_inputs(&arrays, &names, args.x_key.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let [x] = picked.as_slice() else {
        bail!("the student must have one input, it has {}", picked.len());
    };
    let x = args.scaling.apply(x)?;
    let labels = super::labels(&arrays, &args.y_key, x.shape.first().copied().unwrap_or(0))?;
    Ok(Data { x, labels })
}

fn percent(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2}%", 100.0 * v))
}

pub fn run(args: Args) -> anyhow::Result<bool> {
    let qat = match &args.qat {
        Some(_) => Some(QatOptions {
            method: args.calib_method.unwrap_or(QatOptions::default().method),
            samples: args.calib_samples,
        }),
        None if args.calib_method.is_some() || args.calib_samples.is_some() => {
            bail!("--calib-method and --calib-samples need --qat int8")
        }
        None => None,
    };
    let options = DistillOptions {
        epochs: args.epochs,
        temperature: args.temperature,
        alpha: args.alpha,
        lr: args.lr.unwrap_or(args.optimizer.default_lr()),
        batch: args.batch,
        seed: args.seed,
        optimizer: args.optimizer,
        qat,
        keep_zeros: args.keep_zeros,
    };
    options.check()?;
    let model = whittle::compile::load_onnx(&args.student)?;
    let import = whittle::import::ImportOptions {
        input_shapes: args.input_shapes.clone(),
        frozen_inputs: Vec::new(),
    };
    let student = Student::new(&model, args.student.parent(), &import)
        .with_context(|| format!("student {}", args.student.display()))?;
    let train = read_data(&args, &args.data, &model)
        .with_context(|| format!("data {}", args.data.display()))?;
    let val = args
        .val
        .as_ref()
        .map(|p| read_data(&args, p, &model).with_context(|| format!("data {}", p.display())))
        .transpose()?;
    let weights: usize = student
        .params()
        .iter()
        .map(|p| p.shape.iter().product::<usize>())
        .sum();
    out!(
        "{}: {} trained tensors, {} weights; {} samples{}",
        args.student.display(),
        student.params().len(),
        bytes(weights),
        train.x.shape[0],
        if train.labels.is_some() {
            " with labels"
        } else {
            ", no labels (KL only)"
        }
    );
    if let Some(q) = &options.qat {
        out!(
            "quantization-aware (int8): {} weight tensors fake-quantized per channel; activation \
             ranges ({}) calibrated on {} samples before training and after every epoch",
            student.quantized_weights(),
            q.method.name(),
            q.samples
                .map_or(train.x.shape[0], |n| n.min(train.x.shape[0]))
        );
    }
    let distilled = distill(
        &student,
        &args.teacher,
        &train,
        val.as_ref(),
        &options,
        |r| {
            out!(
                "epoch {:>3}/{}: loss {:.4}, train top-1 {}{}",
                r.epoch,
                options.epochs,
                r.loss,
                percent(r.train_top1),
                r.val_top1
                    .map(|v| format!(", val top-1 {:.2}%", 100.0 * v))
                    .unwrap_or_default()
            );
        },
    )
    .with_context(|| format!("distilling {}", args.student.display()))?;
    if distilled.teacher_top1.is_some() {
        out!("teacher train top-1 {}", percent(distilled.teacher_top1));
    }
    if let Some(r) = &distilled.int8_ranges {
        out!("int8 activations fake-quantized: {}", r.len());
        if !r.unmatched.is_empty() {
            out!(
                "note: left in float during training (made by compiler passes): {}",
                r.unmatched.join(", ")
            );
        }
    }
    if let (Some(before), Some(after)) = (
        distilled.val_top1_before,
        distilled.history.last().and_then(|r| r.val_top1),
    ) {
        out!("val top-1 {:.2}% -> {:.2}%", 100.0 * before, 100.0 * after);
    }
    whittle::artifact::write_atomically(&args.output, &distilled.model.encode_to_vec())
        .with_context(|| format!("writing {}", args.output.display()))?;
    out!("wrote {}", args.output.display());
    Ok(true)
}
