//! Flash budgets: the pruned model's float32 parameters fit, close to the budget; an impossible
//! budget is refused with the smallest size reachable; per-group ratios honour a budget too.

use crate::check::{analyse, pruned_vs_mask};
use crate::common::{text, whittle};
use crate::fixtures::{Lcg, example, fixture_inputs, residual_concat};
use std::path::Path;
use whittle::prune::sensitivity::{EvalData, Evaluator, sensitivity};
use whittle::prune::{Amount, Criterion, PruneError, PruneOptions, Scope, parameter_count};

#[test]
fn a_flash_budget_is_met_as_closely_as_the_channel_steps_allow() {
    let dir = tempfile::tempdir().unwrap();
    for (path, scope) in [
        (example().join("gesture.onnx"), Scope::PerGroup),
        (residual_concat(dir.path()), Scope::Global),
    ] {
        let (model, analysis) = analyse(&path);
        let before = 4 * parameter_count(&model) as u64;
        assert_eq!(analysis.baseline_parameter_bytes(), before);
        let budget = before * 6 / 10;
        let options = PruneOptions {
            criterion: Criterion::L1,
            amount: Amount::TargetFlash(budget),
            scope,
            round_to: 1,
        };
        let pruned = analysis.prune(&options).unwrap();
        // Counted in the written model, independently of the pruner's own count.
        let after = 4 * parameter_count(&pruned.model) as u64;
        assert_eq!(analysis.parameter_bytes(&pruned.selection), after);
        assert!(after <= budget, "{after} > {budget}");
        // One rounding step less pruning would not fit.
        let ratio = pruned.ratio.unwrap();
        let scores = analysis.scores(Criterion::L1).unwrap();
        let (_, less) = analysis
            .select(&scores, Amount::Ratio(ratio - 1e-6), scope, 1)
            .unwrap();
        assert!(
            analysis.parameter_bytes(&less) > budget,
            "{}: ratio {ratio} is not the smallest that fits",
            path.display()
        );
        let worst = if scope == Scope::Global {
            pruned_vs_mask(
                dir.path(),
                &analysis,
                &pruned.selection,
                &fixture_inputs(2),
                None,
            )
        } else {
            0.0
        };
        assert!(worst < 1e-4, "pruned and masked differ by {worst}");
    }
}

#[test]
fn an_impossible_flash_budget_names_the_smallest_reachable_size() {
    let (_, analysis) = analyse(&example().join("gesture.onnx"));
    let scores = analysis.scores(Criterion::L1).unwrap();
    let (_, most) = analysis
        .select(&scores, Amount::Ratio(0.999_999), Scope::PerGroup, 1)
        .unwrap();
    let smallest = analysis.parameter_bytes(&most);
    let err = analysis
        .select(&scores, Amount::TargetFlash(100), Scope::PerGroup, 1)
        .unwrap_err();
    match &err {
        PruneError::FlashUnreachable { budget, reached } => {
            assert_eq!((*budget, *reached), (100, smallest));
        }
        other => panic!("{other}"),
    }
    let message = err.to_string();
    assert!(message.contains("in 100 bytes"), "{message}");
    assert!(
        message.contains(&format!(
            "leaves {smallest} bytes ({} over)",
            smallest - 100
        )),
        "{message}"
    );
}

#[test]
fn per_group_ratios_from_sensitivity_meet_a_flash_budget() {
    let dir = tempfile::tempdir().unwrap();
    let (model, analysis) = analyse(&residual_concat(dir.path()));
    let data = EvalData {
        inputs: vec![Lcg(4).tensor(&[16, 3, 8, 8], 1.0)],
        labels: None,
    };
    let options = whittle::CompileOptions::default();
    let evaluator = Evaluator::new(&model, None, &data, &options).unwrap();
    let scores = analysis.scores(Criterion::L2).unwrap();
    let report = sensitivity(
        &analysis,
        &scores,
        Criterion::L2,
        &evaluator,
        &[0.25, 0.5, 0.75],
        1,
        || {},
    )
    .unwrap();
    let budget = analysis.baseline_parameter_bytes() * 7 / 10;
    let (ratios, selection) = analysis
        .select_by_sensitivity(&scores, &report, Amount::TargetFlash(budget), 1)
        .unwrap();
    assert!(ratios.iter().any(|&r| r > 0.0), "{ratios:?}");
    let pruned = analysis.apply(&selection).unwrap();
    assert!(4 * parameter_count(&pruned) as u64 <= budget);
    let err = analysis
        .select_by_sensitivity(&scores, &report, Amount::TargetFlash(100), 1)
        .unwrap_err();
    assert!(err.to_string().contains("in 100 bytes"), "{err}");
}

#[test]
fn cli_prunes_to_a_flash_budget_or_says_how_far_it_gets() {
    let dir = tempfile::tempdir().unwrap();
    let model = example().join("gesture.onnx");
    let pruned = dir.path().join("pruned.onnx");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let out = whittle(&[
        "prune",
        &s(&model),
        "-o",
        &s(&pruned),
        "--target-flash",
        "10KiB",
    ]);
    let printed = text(&out);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("float32 parameters 18,068 -> "),
        "{printed}"
    );
    assert!(printed.contains("(budget 10,240)"), "{printed}");
    let bytes = 4 * parameter_count(&whittle::compile::load_onnx(&pruned).unwrap());
    assert!(bytes <= 10 * 1024, "{bytes}");
    let wtl = dir.path().join("pruned.wtl");
    let out = whittle(&["compile", &s(&pruned), "-o", &s(&wtl)]);
    assert!(out.status.success(), "{}", text(&out));

    std::fs::remove_file(&pruned).unwrap();
    let out = whittle(&[
        "prune",
        &s(&model),
        "-o",
        &s(&pruned),
        "--target-flash",
        "100B",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot fit the float32 parameters in 100 bytes"),
        "{}",
        text(&out)
    );
    assert!(!pruned.exists());
}
