//! Quantization-aware distillation (`--qat int8`) on the bundled gesture example: the
//! fake-quantized student computes what the int8 compilation of the written model computes,
//! and the int8 model keeps the float model's validation top-1.

#[path = "common/mod.rs"]
mod common;

use candle_core::Tensor as CTensor;
use common::{text, whittle};
use std::path::{Path, PathBuf};
use whittle::compile::{CompileOptions, compile};
use whittle::distill::qat::QatOptions;
use whittle::distill::{Data, DistillOptions, Distilled, Optimizer, Student, distill};
use whittle::import::ImportOptions;
use whittle::onnx::pb;
use whittle::prune::{Amount, Analysis, Criterion, PruneOptions, Scope};
use whittle::quantize::{Method, QuantizeOptions};
use whittle::run::Runner;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture")
}

fn gesture_data(split: &str) -> Data {
    let arrays = whittle::data::read_arrays(&example().join(format!("data/{split}.npz"))).unwrap();
    let get = |name: &str| arrays.iter().find(|(n, _)| n == name).unwrap().1.clone();
    Data {
        x: get("x"),
        labels: Some(get("y").to_i64()),
    }
}

/// The gesture model pruned to 60% of its MACs (as docs/distill.md's example).
fn pruned() -> pb::ModelProto {
    let teacher = example().join("gesture.onnx");
    let model = whittle::compile::load_onnx(&teacher).unwrap();
    let analysis = Analysis::new(&model, teacher.parent(), &ImportOptions::default()).unwrap();
    analysis
        .prune(&PruneOptions {
            criterion: Criterion::L1,
            amount: Amount::TargetMacs(0.6),
            scope: Scope::PerGroup,
            round_to: 1,
        })
        .unwrap()
        .model
}

fn distilled(student: &Student, epochs: usize, qat: bool) -> Distilled {
    let options = DistillOptions {
        epochs,
        lr: 3e-3,
        optimizer: Optimizer::Adam,
        qat: qat.then(QatOptions::default),
        ..DistillOptions::default()
    };
    let (train, val) = (gesture_data("train"), gesture_data("val"));
    distill(
        student,
        &example().join("gesture.onnx"),
        &train,
        Some(&val),
        &options,
        |_| {},
    )
    .unwrap()
}

/// `whittle compile` of `model`, in float or int8 calibrated on the training data with the
/// default method (mse), as QAT's ranges are.
fn compiled(model: &pb::ModelProto, int8: bool) -> Vec<u8> {
    let opts = CompileOptions {
        quantize: int8.then(|| QuantizeOptions {
            calibration: vec![gesture_data("train").x],
            method: Method::Mse,
            samples: None,
            bias_correction: false,
            int8_io: false,
            keep_float: Vec::new(),
            calibrated: None,
        }),
        ..CompileOptions::default()
    };
    compile(model, None, &opts).unwrap().artifact
}

/// Validation top-1 of an artifact.
fn val_top1(artifact: &[u8]) -> f64 {
    let val = gesture_data("val");
    let out = Runner::new(artifact).unwrap().run(&[val.x]).unwrap();
    let labels = val.labels.unwrap();
    let scores = out[0].to_f32();
    whittle::metrics::accuracy(&scores, scores.len() / labels.len(), &labels)
        .unwrap()
        .top1
}

fn argmax(row: &[f32]) -> usize {
    (0..row.len()).fold(0, |b, i| if row[i] > row[b] { i } else { b })
}

#[test]
fn the_fake_quantized_student_computes_what_the_int8_compilation_does() {
    let student = Student::new(&pruned(), None, &ImportOptions::default()).unwrap();
    let d = distilled(&student, 2, true);
    let ranges = d.int8_ranges.as_ref().unwrap();
    assert!(ranges.unmatched.is_empty(), "{:?}", ranges.unmatched);
    // Input, four Conv(+BN+Relu) outputs, the average pool, the logits.
    assert_eq!((ranges.len(), student.quantized_weights()), (7, 5));

    let val = gesture_data("val");
    let n = val.x.shape[0];
    let x = CTensor::from_vec(val.x.to_f32(), val.x.shape.clone(), student.device()).unwrap();
    let fake = student.forward_int8(&x, ranges).unwrap();
    let fake = fake.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let classes = fake.len() / n;

    // The int8 model's logits: the output of its last dense layer, before the Softmax.
    let artifact = compiled(&d.model, true);
    let mut runner = Runner::new(&artifact).unwrap();
    let per_sample = val.x.len() / n;
    let values = val.x.to_f32();
    let (mut worst, mut total, mut differing, mut agree) = (0f32, 0f64, 0usize, 0usize);
    for s in 0..n {
        let sample = whittle::Tensor::f32(
            val.x.shape[1..].to_vec(),
            values[s * per_sample..(s + 1) * per_sample].to_vec(),
        );
        let layers = runner.run_layers(&[sample]).unwrap();
        let dense = layers.iter().rfind(|l| l.op == "DenseI8").unwrap();
        let lsb = dense.quant.unwrap().scale;
        let int8 = dense.real();
        let mine = &fake[s * classes..(s + 1) * classes];
        let errors: Vec<f32> = int8
            .iter()
            .zip(mine)
            .map(|(a, b)| (a - b).abs() / lsb)
            .collect();
        total += errors.iter().map(|&e| f64::from(e)).sum::<f64>();
        let error = errors.iter().copied().fold(0f32, f32::max);
        worst = worst.max(error);
        differing += usize::from(error > 0.5);
        agree += usize::from(argmax(&int8) == argmax(mine));
    }
    let mean = total / fake.len() as f64;
    println!(
        "fake-quantized vs int8 logits on {n} samples: top-1 agreement {agree}/{n}, \
         {differing} samples differ somewhere, mean difference {mean:.3} LSB, largest {worst:.2} LSB"
    );
    // The fake quantization rounds in float where the runtime requantizes int32 sums with
    // fixed-point multipliers (round half up), rounds each bias to int32 and averages pools
    // in integers: a value within a hair of a rounding boundary lands one step apart, and a
    // step in an early layer can move a logit by a step or two. Measured: 500/500 top-1
    // agreement, 216 of 500 samples with some logit one or two steps off, mean 0.1 LSB,
    // largest 2 LSB. A mismatch of the scheme (a wrong scale, a missed activation) gives
    // tens of LSB and lost agreement.
    assert!(worst <= 3.0, "{worst} LSB");
    assert!(mean <= 0.25, "mean {mean} LSB");
    assert!(agree * 100 >= n * 99, "top-1 agreement {agree}/{n}");
}

#[test]
fn int8_of_the_qat_model_keeps_its_float_top1() {
    let model = pruned();
    let epochs = 6;
    let float_student = Student::new(&model, None, &ImportOptions::default()).unwrap();
    let float = distilled(&float_student, epochs, false).model;
    let qat_student = Student::new(&model, None, &ImportOptions::default()).unwrap();
    let qat = distilled(&qat_student, epochs, true);
    let (float_f, float_q) = (
        val_top1(&compiled(&float, false)),
        val_top1(&compiled(&float, true)),
    );
    let (qat_f, qat_q) = (
        val_top1(&compiled(&qat.model, false)),
        val_top1(&compiled(&qat.model, true)),
    );
    println!(
        "val top-1 ({epochs} epochs): distilled float {:.2}%, its int8 {:.2}%; \
         QAT float {:.2}%, its int8 {:.2}%; QAT's estimate {:.2}%",
        100.0 * float_f,
        100.0 * float_q,
        100.0 * qat_f,
        100.0 * qat_q,
        100.0 * qat.history.last().unwrap().val_top1.unwrap()
    );
    assert!(qat_q > 0.95, "{qat_q}");
    assert!(qat_f - qat_q <= 0.005, "{qat_f} -> {qat_q}");
}

#[test]
fn qat_takes_only_int8() {
    let distill = |extra: &[&str]| {
        let mut args = vec![
            "distill",
            "student.onnx",
            "--teacher",
            "teacher.onnx",
            "--data",
            "train.npz",
            "-o",
            "out.onnx",
        ];
        args.extend(extra);
        whittle(&args)
    };
    let o = distill(&["--qat", "int4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("--qat takes int8") && text(&o).contains("not 'int4'"),
        "{}",
        text(&o)
    );
    let o = distill(&["--calib-method", "minmax"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("need --qat int8"), "{}", text(&o));
}
