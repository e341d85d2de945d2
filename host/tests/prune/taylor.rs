//! Taylor importance: a channel nothing reads scores zero and goes first, the scores follow the
//! definition on a model small enough to compute it by hand, and the CLI needs `--data`.

use crate::check::analyse;
use crate::common::{text, whittle};
use crate::fixtures::{Lcg, example};
use std::path::{Path, PathBuf};
use whittle::Tensor;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::prune::sensitivity::EvalData;
use whittle::prune::{Amount, Criterion, Scope};

/// Conv (4 channels; channel 2 has the largest filter) -> Relu -> 1x1 Conv that reads nothing
/// from channel 2 -> GlobalAveragePool -> Flatten: 3 logits.
fn dead_channel_model(dir: &Path) -> PathBuf {
    let mut rng = Lcg(3);
    let mut g = GraphBuilder::new("dead_channel", 13);
    let x = g.input("x", &[1, 2, 4, 4]);
    let mut w = rng.tensor(&[4, 2, 3, 3], 0.5).to_f32();
    for v in &mut w[2 * 18..3 * 18] {
        *v *= 4.0;
    }
    let w = g.constant("a.w", &Tensor::f32(vec![4, 2, 3, 3], w));
    let b = g.constant("a.b", &Tensor::f32(vec![4], vec![0.5; 4]));
    let a = g.node(
        "Conv",
        &[&x, &w, &b],
        vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))],
    );
    let a = g.node("Relu", &[&a], vec![]);
    let mut w = rng.tensor(&[3, 4, 1, 1], 1.0).to_f32();
    for row in 0..3 {
        w[row * 4 + 2] = 0.0;
    }
    let w = g.constant("b.w", &Tensor::f32(vec![3, 4, 1, 1], w));
    let y = g.node("Conv", &[&a, &w], vec![]);
    let y = g.node("GlobalAveragePool", &[&y], vec![]);
    let y = g.node("Flatten", &[&y], vec![]);
    g.output(&y, &[1, 3]);
    let path = dir.join("dead_channel.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    path
}

fn random_data(shape: &[usize], classes: i64, labelled: bool) -> EvalData {
    let mut rng = Lcg(17);
    let inputs = vec![rng.tensor(shape, 1.0)];
    let labels = labelled.then(|| {
        (0..shape[0])
            .map(|_| ((rng.unit() + 1.0) * 0.5 * classes as f32) as i64 % classes)
            .collect()
    });
    EvalData { inputs, labels }
}

#[test]
fn taylor_ranks_a_channel_nothing_reads_lowest() {
    let dir = tempfile::tempdir().unwrap();
    let (_, analysis) = analyse(&dead_channel_model(dir.path()));
    let zeros_of_b = |scores| {
        let (_, selection) = analysis
            .select(&scores, Amount::Ratio(0.25), Scope::PerGroup, 1)
            .unwrap();
        let pruned = analysis.apply(&selection).unwrap();
        let init = pruned.graph.as_ref().unwrap().initializer.iter();
        let b = init.clone().find(|i| i.name == "b.w").unwrap();
        let b = whittle::onnx::read::tensor_from_proto(b, None).unwrap();
        assert_eq!(b.shape, vec![3, 3, 1, 1]);
        b.to_f32().iter().filter(|&&v| v == 0.0).count()
    };
    // L1 keeps the dead channel (its filter is the largest): the zero column stays.
    assert_eq!(zeros_of_b(analysis.scores(Criterion::L1).unwrap()), 3);
    for labelled in [true, false] {
        let data = random_data(&[24, 2, 4, 4], 3, labelled);
        let scores = analysis.taylor_scores(&data, 256).unwrap();
        let group = analysis.group_scores(&scores, 0);
        assert_eq!(group[2], 0.0, "labelled {labelled}: {group:?}");
        assert!(
            group.iter().enumerate().all(|(k, &s)| k == 2 || s > 1e-6),
            "labelled {labelled}: {group:?}"
        );
        // Taylor removes it: no zero column is left.
        assert_eq!(zeros_of_b(scores.clone()), 0, "labelled {labelled}");
        // Deterministic.
        let again = analysis.taylor_scores(&data, 256).unwrap();
        assert_eq!(analysis.group_scores(&again, 0), group);
    }
}

#[test]
fn taylor_scores_follow_the_definition_on_a_linear_model() {
    // logits = (x @ w1) @ w2; a = x @ w1 has 3 channels. With cross-entropy on label y,
    // dL/da = (softmax(logits) - onehot(y)) @ w2^T, and the score of channel c is the mean
    // over samples of (a_c * dL/da_c)^2, normalized to a mean of 1 over the channels.
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(29);
    let w1 = rng.tensor(&[2, 3], 1.0);
    let w2 = rng.tensor(&[3, 2], 1.0);
    let mut g = GraphBuilder::new("linear", 13);
    let x = g.input("x", &[1, 2]);
    let c1 = g.constant("w1", &w1);
    let a = g.node("MatMul", &[&x, &c1], vec![]);
    let c2 = g.constant("w2", &w2);
    let y = g.node("MatMul", &[&a, &c2], vec![]);
    g.output(&y, &[1, 2]);
    let path = dir.path().join("linear.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    let (_, analysis) = analyse(&path);
    let data = random_data(&[10, 2], 2, true);
    // Only the first 7 samples count.
    let scores = analysis.taylor_scores(&data, 7).unwrap();
    let got = analysis.group_scores(&scores, 0);

    let (x, w1, w2) = (data.inputs[0].to_f32(), w1.to_f32(), w2.to_f32());
    let labels = data.labels.as_ref().unwrap();
    let mut expected = [0.0f64; 3];
    for n in 0..7 {
        let a: Vec<f64> = (0..3)
            .map(|c| {
                (0..2)
                    .map(|i| f64::from(x[n * 2 + i] * w1[i * 3 + c]))
                    .sum()
            })
            .collect();
        let logits: Vec<f64> = (0..2)
            .map(|j| (0..3).map(|c| a[c] * f64::from(w2[c * 2 + j])).sum())
            .collect();
        let max = logits.iter().cloned().fold(f64::MIN, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        let d: Vec<f64> = (0..2)
            .map(|j| e[j] / sum - f64::from(u8::from(labels[n] == j as i64)))
            .collect();
        for (c, total) in expected.iter_mut().enumerate() {
            let grad: f64 = (0..2).map(|j| d[j] * f64::from(w2[c * 2 + j])).sum();
            *total += (a[c] * grad).powi(2) / 7.0;
        }
    }
    let mean = expected.iter().sum::<f64>() / 3.0;
    for c in 0..3 {
        let want = expected[c] / mean;
        assert!(
            (got[c] - want).abs() < 1e-4 * want.max(1.0),
            "channel {c}: {got:?} vs {:?}",
            expected.map(|e| e / mean)
        );
    }
}

#[test]
fn cli_taylor_prunes_the_example_into_a_model_that_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let model = example().join("gesture.onnx");
    let data = example().join("data/train.npz");
    let pruned = dir.path().join("pruned.onnx");
    let wtl = dir.path().join("pruned.wtl");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = whittle(&[
        "prune",
        &s(&model),
        "-o",
        &s(&pruned),
        "--ratio",
        "0.25",
        "--criterion",
        "taylor",
        "--data",
        &s(&data),
        "--samples",
        "128",
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("conv_0                             16 ->   12"),
        "{printed}"
    );
    assert!(printed.contains("top1 on 128 samples"), "{printed}");
    let out = whittle(&["compile", &s(&pruned), "-o", &s(&wtl)]);
    assert!(out.status.success(), "{}", text(&out));
    let out = whittle(&[
        "eval",
        &s(&wtl),
        "--data",
        &s(&example().join("data/val.npz")),
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn cli_taylor_without_data_names_the_missing_flag() {
    let dir = tempfile::tempdir().unwrap();
    let model = example().join("gesture.onnx");
    let pruned = dir.path().join("pruned.onnx");
    let out = whittle(&[
        "prune",
        model.to_str().unwrap(),
        "-o",
        pruned.to_str().unwrap(),
        "--ratio",
        "0.3",
        "--criterion",
        "taylor",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--data"), "{}", text(&out));
    assert!(!pruned.exists());
}
