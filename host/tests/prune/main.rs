//! Structured pruning: dependency groups on the example model and on a residual + concat
//! fixture, the pruned ONNX against a mask-based reference in tract, MAC targets, the CLI.

mod check;
#[path = "../common/mod.rs"]
mod common;
mod fixtures;
mod flash;
mod taylor;

use check::*;
use common::{text, whittle};
use fixtures::*;
use std::path::Path;
use whittle::Tensor;
use whittle::import::ImportOptions;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::onnx::pb;
use whittle::prune::{Amount, Analysis, Criterion, PruneOptions, Scope, Selection};

#[test]
fn gesture_groups_couple_the_depthwise_conv_and_keep_the_classifier() {
    let (_, analysis) = analyse(&example().join("gesture.onnx"));
    let groups: Vec<(String, usize, usize)> = analysis
        .groups()
        .iter()
        .map(|g| (g.name.clone(), g.channels(), g.prunable()))
        .collect();
    // The stem Conv and the depthwise Conv after it share their 16 channels; the Gemm's
    // outputs are the model's classes and stay.
    assert_eq!(
        groups,
        vec![
            ("conv_0".to_string(), 16, 16),
            ("conv_7".to_string(), 32, 32),
            ("conv_11".to_string(), 32, 32),
            ("gemm_16".to_string(), 5, 0),
        ]
    );
}

#[test]
fn gesture_pruned_to_a_mac_target_matches_the_mask_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (model, analysis) = analyse(&example().join("gesture.onnx"));
    let pruned = analysis
        .prune(&PruneOptions {
            criterion: Criterion::L2,
            amount: Amount::TargetMacs(0.6),
            scope: Scope::PerGroup,
            round_to: 1,
        })
        .unwrap();
    let share = pruned.macs_after as f64 / pruned.macs_before as f64;
    assert!((0.5..=0.6).contains(&share), "MAC share {share}");
    // The compiled artifacts agree with the pruner's count.
    let (before, after) = (compiled_macs(&model), compiled_macs(&pruned.model));
    assert_eq!(before, pruned.macs_before);
    assert_eq!(after, pruned.macs_after);

    let kept = analysis.kept_channels(&pruned.selection);
    assert!(kept[..3].iter().all(|&k| k > 0) && kept[3] == 5, "{kept:?}");
    let weights = conv_and_gemm_weights(&pruned.model);
    assert_eq!(
        weights,
        vec![
            vec![kept[0], 3, 5],
            vec![kept[0], 1, 3],
            vec![kept[1], kept[0], 1],
            vec![kept[2], kept[1], 3],
            vec![5, kept[2]],
        ]
    );
    let dw = &pruned.model.graph.as_ref().unwrap().node[4];
    let group = dw.attribute.iter().find(|a| a.name == "group").unwrap().i;
    assert_eq!(group as usize, kept[0]);
    assert_eq!(
        shapes(
            &pruned.model,
            &["conv1.bn.running_var", "dwconv.bn.weight", "probs"]
        ),
        vec![vec![kept[0]], vec![kept[0]], vec![1, 5]]
    );
    let worst = pruned_vs_mask(
        dir.path(),
        &analysis,
        &pruned.selection,
        &gesture_inputs(),
        Some("gemm_16"),
    );
    assert!(worst < 1e-4, "pruned and masked differ by {worst}");
}

#[test]
fn residual_and_concat_are_pruned_consistently() {
    let dir = tempfile::tempdir().unwrap();
    let (_, analysis) = analyse(&residual_concat(dir.path()));
    let groups: Vec<(String, usize, usize)> = analysis
        .groups()
        .iter()
        .map(|g| (g.name.clone(), g.channels(), g.prunable()))
        .collect();
    // Both convolutions of the residual block are one group (the depthwise conv reading the
    // sum with them); the MatMul's outputs are the model's.
    assert_eq!(
        groups,
        vec![
            ("conv_0 + conv_3".to_string(), 8, 8),
            ("conv_10".to_string(), 6, 6),
            ("conv_13".to_string(), 10, 10),
            ("gemm_16".to_string(), 12, 12),
            ("matmul_18".to_string(), 5, 0),
        ]
    );
    let scores = analysis.scores(Criterion::L1).unwrap();
    let (_, selection) = analysis
        .select(&scores, Amount::Ratio(0.5), Scope::PerGroup, 2)
        .unwrap();
    // Half of each group, rounded up to an even count: 8 -> 4, 6 -> 3 -> 4, 10 -> 5 -> 6.
    assert_eq!(analysis.kept_channels(&selection), vec![4, 4, 6, 6, 5]);
    let pruned = analysis.apply(&selection).unwrap();
    assert_eq!(
        shapes(
            &pruned,
            &[
                "conv_0",
                "conv_3",
                "add_6",
                "conv_7",
                "concat_11",
                "cat.scale",
                "conv_13",
                "reshape_15",
                "fc.w",
                "gemm_16",
                "out.w",
                "add_19"
            ]
        ),
        vec![
            vec![1, 4, 8, 8],
            vec![1, 4, 8, 8],
            vec![1, 4, 8, 8],
            vec![1, 4, 8, 8],
            vec![1, 8, 8, 8],
            vec![1, 8, 1, 1],
            vec![1, 6, 4, 4],
            vec![1, 96],
            vec![6, 96],
            vec![1, 6],
            vec![6, 5],
            vec![1, 5],
        ]
    );
    let worst = pruned_vs_mask(dir.path(), &analysis, &selection, &fixture_inputs(3), None);
    assert!(worst < 1e-4, "pruned and masked differ by {worst}");
}

#[test]
fn residual_fixture_meets_a_mac_target_with_a_global_ranking() {
    let dir = tempfile::tempdir().unwrap();
    let (model, analysis) = analyse(&residual_concat(dir.path()));
    for criterion in [Criterion::L2, Criterion::BnScale] {
        let pruned = analysis
            .prune(&PruneOptions {
                criterion,
                amount: Amount::TargetMacs(0.6),
                scope: Scope::Global,
                round_to: 1,
            })
            .unwrap();
        let share = pruned.macs_after as f64 / pruned.macs_before as f64;
        assert!(
            (0.5..=0.6).contains(&share),
            "{criterion:?}: MAC share {share}"
        );
        assert_eq!(compiled_macs(&model), pruned.macs_before);
        assert_eq!(compiled_macs(&pruned.model), pruned.macs_after);
        let worst = pruned_vs_mask(
            dir.path(),
            &analysis,
            &pruned.selection,
            &fixture_inputs(2),
            None,
        );
        assert!(
            worst < 1e-4,
            "{criterion:?}: pruned and masked differ by {worst}"
        );
    }
}

#[test]
fn channels_that_reach_an_output_or_a_transpose_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(5);
    let mut g = GraphBuilder::new("blocked", 13);
    let x = g.input("x", &[1, 2, 4, 4]);
    let w = g.constant("a.w", &rng.tensor(&[4, 2, 1, 1], 1.0));
    let a = g.node("Conv", &[&x, &w], vec![]);
    let t = g.node(
        "Transpose",
        &[&a],
        vec![("perm", Attr::Ints(vec![0, 1, 3, 2]))],
    );
    let w = g.constant("b.w", &rng.tensor(&[3, 4, 1, 1], 1.0));
    let b = g.node("Conv", &[&t, &w], vec![]);
    g.output(&b, &[1, 3, 4, 4]);
    let path = dir.path().join("blocked.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    let (_, analysis) = analyse(&path);
    assert!(analysis.groups().iter().all(|g| g.prunable() == 0));
    let scores = analysis.scores(Criterion::L1).unwrap();
    let (_, selection) = analysis
        .select(&scores, Amount::Ratio(0.5), Scope::PerGroup, 1)
        .unwrap();
    assert_eq!(selection, Selection::none());
    let err = analysis
        .select(&scores, Amount::TargetMacs(0.5), Scope::PerGroup, 1)
        .unwrap_err();
    assert!(err.to_string().contains("cannot reach 50.0%"), "{err}");
}

#[test]
fn cli_prunes_the_example_and_writes_a_sensitivity_report() {
    let dir = tempfile::tempdir().unwrap();
    let model = example().join("gesture.onnx");
    let data = example().join("data/val.npz");
    let pruned = dir.path().join("pruned.onnx");
    let report = dir.path().join("sensitivity.json");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = whittle(&[
        "prune",
        &s(&model),
        "-o",
        &s(&pruned),
        "--target-macs",
        "0.6",
        "--criterion",
        "bn-scale",
        "--round-to",
        "4",
        "--data",
        &s(&data),
        "--samples",
        "200",
        "--sensitivity",
        &s(&report),
        "--sensitivity-ratios",
        "0.25,0.5,0.75",
        "--by-sensitivity",
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("MACs 82,592 -> "), "{printed}");
    assert!(printed.contains("top1 on 200 samples"), "{printed}");
    assert!(printed.contains("ratios per group"), "{printed}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["metric"], "top1");
    assert_eq!(json["samples"], 200);
    let groups = json["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4);
    // 16 channels at 0.25/0.5/0.75, kept as multiples of 4: 12, 8, 4.
    let kept: Vec<u64> = groups[0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["channels_kept"].as_u64().unwrap())
        .collect();
    assert_eq!(kept, vec![12, 8, 4]);
    assert!(groups[3]["points"].as_array().unwrap().is_empty());
    // Every channel count of the pruned model is a multiple of 4.
    let weights = conv_and_gemm_weights(&whittle::compile::load_onnx(&pruned).unwrap());
    assert!(weights[..4].iter().all(|w| w[0] % 4 == 0), "{weights:?}");
    for command in ["check", "compile"] {
        let wtl = s(&dir.path().join("pruned.wtl"));
        let mut args = vec![command, pruned.to_str().unwrap()];
        if command == "compile" {
            args.extend(["-o", &wtl]);
        }
        let out = whittle(&args);
        assert!(out.status.success(), "{command}: {}", text(&out));
    }
}

#[test]
fn cli_rounds_channel_counts_to_the_target_profiles_multiple() {
    let dir = tempfile::tempdir().unwrap();
    let model = example().join("gesture.onnx");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let channels = |extra: &[&str]| {
        let pruned = dir.path().join("pruned.onnx");
        let mut args = vec!["prune", model.to_str().unwrap(), "-o"];
        let out_path = s(&pruned);
        args.push(&out_path);
        args.extend(["--ratio", "0.4"]);
        args.extend(extra);
        let out = whittle(&args);
        assert!(out.status.success(), "{}", text(&out));
        let weights = conv_and_gemm_weights(&whittle::compile::load_onnx(&pruned).unwrap());
        weights[..4].iter().map(|w| w[0]).collect::<Vec<_>>()
    };
    // Without a target nothing is rounded: 40% of 16 channels leaves 10.
    let free = channels(&[]);
    assert!(free.iter().any(|c| c % 4 != 0), "{free:?}");
    // The Cortex-M4F kernels compute four filters at once.
    let m4f = channels(&["--target", "cortex-m4f"]);
    assert!(m4f.iter().all(|c| c % 4 == 0), "{m4f:?}");
    assert!(
        m4f.iter().zip(&free).all(|(r, f)| r >= f),
        "{m4f:?} {free:?}"
    );
    // AVX2 eight; an explicit --round-to wins over the profile.
    let avx2 = channels(&["--target", "x86_64-avx2"]);
    assert!(avx2.iter().all(|c| c % 8 == 0), "{avx2:?}");
    assert_eq!(
        channels(&["--target", "x86_64-avx2", "--round-to", "1"]),
        free
    );
    let out = whittle(&[
        "prune",
        model.to_str().unwrap(),
        "-o",
        &s(&dir.path().join("x.onnx")),
        "--ratio",
        "0.4",
        "--target",
        "cortex-m99",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("unknown target 'cortex-m99'"),
        "{}",
        text(&out)
    );
}

#[test]
fn cli_rejects_bad_amounts_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = example().join("gesture.onnx");
    let pruned = dir.path().join("pruned.onnx");
    for (flags, needle) in [
        (vec!["--ratio", "1.5"], "ratio must be in [0, 1)"),
        (
            vec!["--target-macs", "0.001"],
            "cannot reach 0.1% of the MACs",
        ),
        (vec![], "--ratio R, --target-macs F or --target-flash SIZE"),
        (
            vec!["--ratio", "0.3", "--target-flash", "10KiB"],
            "cannot be used with",
        ),
        (
            vec!["--target-flash", "12 parsecs"],
            "unknown unit 'parsecs'",
        ),
        (
            vec!["--sparsity", "0.5", "--ratio", "0.3"],
            "cannot be used with",
        ),
        (vec!["--sparsity", "1.5"], "--sparsity must be in [0, 1)"),
    ] {
        let mut args = vec![
            "prune",
            model.to_str().unwrap(),
            "-o",
            pruned.to_str().unwrap(),
        ];
        args.extend(flags);
        let out = whittle(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
        assert!(!pruned.exists());
    }
}

#[test]
fn criteria_remove_the_least_important_channels() {
    let dir = tempfile::tempdir().unwrap();
    let (_, analysis) = analyse(&ranked_model(dir.path()));
    for (criterion, kept_gamma) in [
        (Criterion::L1, vec![2.0, 1.0]),
        (Criterion::L2, vec![2.0, 1.0]),
        (Criterion::BnScale, vec![4.0, 3.0]),
    ] {
        let scores = analysis.scores(criterion).unwrap();
        let (_, selection) = analysis
            .select(&scores, Amount::Ratio(0.5), Scope::PerGroup, 1)
            .unwrap();
        let pruned = analysis.apply(&selection).unwrap();
        let gamma = pruned
            .graph
            .as_ref()
            .unwrap()
            .initializer
            .iter()
            .find(|i| i.name == "bn.gamma")
            .map(|t| whittle::onnx::read::tensor_from_proto(t, None).unwrap())
            .unwrap();
        assert_eq!(gamma.to_f32(), kept_gamma, "{criterion:?}");
    }
}

#[test]
fn sensitivity_of_the_fixture_and_ratios_chosen_from_it() {
    use whittle::prune::sensitivity::{EvalData, Evaluator, sensitivity};
    let dir = tempfile::tempdir().unwrap();
    let (model, analysis) = analyse(&residual_concat(dir.path()));
    let mut rng = Lcg(21);
    let data = EvalData {
        inputs: vec![rng.tensor(&[24, 3, 8, 8], 1.0)],
        labels: None,
    };
    let options = whittle::CompileOptions::default();
    let evaluator = Evaluator::new(&model, None, &data, &options).unwrap();
    assert_eq!(evaluator.metric(), "agreement");
    let scores = analysis.scores(Criterion::L1).unwrap();
    let mut steps = 0;
    let report = sensitivity(
        &analysis,
        &scores,
        Criterion::L1,
        &evaluator,
        &[0.25, 0.5, 0.75],
        1,
        || steps += 1,
    )
    .unwrap();
    assert_eq!(steps, 15);
    assert_eq!(report.baseline, 1.0);
    assert_eq!(report.samples, 24);
    let kept: Vec<Vec<usize>> = report
        .groups
        .iter()
        .map(|g| g.points.iter().map(|p| p.channels_kept).collect())
        .collect();
    // 8, 6, 10 and 12 channels at a quarter, half, three quarters (channels to remove rounded
    // half away from zero); the outputs stay.
    assert_eq!(
        kept,
        vec![
            vec![6, 4, 2],
            vec![4, 3, 1],
            vec![7, 5, 2],
            vec![9, 6, 3],
            vec![]
        ]
    );
    for g in &report.groups {
        for p in &g.points {
            assert!(
                p.macs_share < 1.0 && (0.0..=1.0).contains(&p.metric),
                "{p:?}"
            );
            assert!((p.drop - (1.0 - p.metric)).abs() < 1e-12);
        }
    }
    let (ratios, selection) = analysis
        .select_by_sensitivity(&scores, &report, Amount::TargetMacs(0.6), 1)
        .unwrap();
    assert_eq!(ratios.len(), 5);
    assert_eq!(ratios[4], 0.0);
    assert!(analysis.macs(&selection) as f64 <= 0.6 * analysis.baseline_macs() as f64);
    let worst = pruned_vs_mask(dir.path(), &analysis, &selection, &fixture_inputs(2), None);
    assert!(worst < 1e-4, "pruned and masked differ by {worst}");
}

#[test]
fn external_weights_are_copied_into_the_pruned_model() {
    let dir = tempfile::tempdir().unwrap();
    let source = ranked_model(dir.path());
    let mut model = whittle::compile::load_onnx(&source).unwrap();
    // Move every initializer's bytes to `weights.bin`, as large models are stored.
    let mut blob = Vec::new();
    for init in &mut model.graph.as_mut().unwrap().initializer {
        let entry = |key: &str, value: String| pb::StringStringEntryProto {
            key: key.into(),
            value,
        };
        init.external_data = vec![
            entry("location", "weights.bin".into()),
            entry("offset", blob.len().to_string()),
            entry("length", init.raw_data.len().to_string()),
        ];
        blob.append(&mut init.raw_data);
        init.data_location = Some(pb::tensor_proto::DataLocation::External as i32);
    }
    std::fs::write(dir.path().join("weights.bin"), blob).unwrap();
    let analysis = Analysis::new(&model, Some(dir.path()), &ImportOptions::default()).unwrap();
    let scores = analysis.scores(Criterion::L1).unwrap();
    // Nothing removed (every tensor as it was) and half removed (every tensor sliced).
    for ratio in [0.0, 0.5] {
        let (_, selection) = analysis
            .select(&scores, Amount::Ratio(ratio), Scope::PerGroup, 1)
            .unwrap();
        let pruned = analysis.apply(&selection).unwrap();
        let external = Some(pb::tensor_proto::DataLocation::External as i32);
        let graph = pruned.graph.as_ref().unwrap();
        assert!(
            graph
                .initializer
                .iter()
                .all(|i| i.data_location != external)
        );
        // Written elsewhere, it still runs: nothing refers to the original directory.
        let elsewhere = tempfile::tempdir().unwrap();
        let path = write(elsewhere.path(), "pruned.onnx", &pruned);
        let x = Lcg(1).tensor(&[1, 2, 3, 3], 1.0);
        let out = whittle::reference::run_tract(&path, &[x]).unwrap();
        assert_eq!(out[0].shape, vec![1, 1, 3, 3]);
    }
}

#[test]
fn a_squeeze_excitation_gate_is_pruned_with_the_channels_it_scales() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(8);
    let mut g = GraphBuilder::new("se", 13);
    let x = g.input("x", &[1, 3, 6, 6]);
    let mut conv = |g: &mut GraphBuilder, x: &str, name: &str, shape: [usize; 4]| {
        let w = g.constant(&format!("{name}.w"), &rng.tensor(&shape, 0.5));
        let b = g.constant(&format!("{name}.b"), &rng.tensor(&shape[..1], 0.2));
        g.node("Conv", &[x, &w, &b], vec![])
    };
    let a = conv(&mut g, &x, "a", [8, 3, 1, 1]);
    let a = g.node("Relu", &[&a], vec![]);
    let pooled = g.node("GlobalAveragePool", &[&a], vec![]);
    let squeeze = conv(&mut g, &pooled, "squeeze", [4, 8, 1, 1]);
    let squeeze = g.node("Relu", &[&squeeze], vec![]);
    let excite = conv(&mut g, &squeeze, "excite", [8, 4, 1, 1]);
    let gate = g.node("Sigmoid", &[&excite], vec![]);
    let scaled = g.node("Mul", &[&a, &gate], vec![]);
    let y = conv(&mut g, &scaled, "out", [2, 8, 1, 1]);
    g.output(&y, &[1, 2, 6, 6]);
    let path = dir.path().join("se.onnx");
    std::fs::write(&path, g.to_bytes()).unwrap();
    let (_, analysis) = analyse(&path);
    let groups: Vec<(String, usize, usize)> = analysis
        .groups()
        .iter()
        .map(|g| (g.name.clone(), g.channels(), g.prunable()))
        .collect();
    assert_eq!(
        groups,
        vec![
            ("conv_0 + conv_5".to_string(), 8, 8),
            ("conv_3".to_string(), 4, 4),
            ("conv_8".to_string(), 2, 0),
        ]
    );
    let scores = analysis.scores(Criterion::L2).unwrap();
    let (_, selection) = analysis
        .select(&scores, Amount::Ratio(0.5), Scope::PerGroup, 1)
        .unwrap();
    assert_eq!(analysis.kept_channels(&selection), vec![4, 2, 2]);
    let inputs: Vec<Tensor> = (0..2).map(|_| rng.tensor(&[1, 3, 6, 6], 1.0)).collect();
    let worst = pruned_vs_mask(dir.path(), &analysis, &selection, &inputs, None);
    assert!(worst < 1e-4, "pruned and masked differ by {worst}");
}
