//! Checking a stage's metrics against the gates and the target's budgets.

use super::config::Gates;
use super::evaluate::Metrics;
use serde::Serialize;

/// One gate's verdict.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GateResult {
    /// The gate's key in the pipeline file (or `target.flash` / `target.ram`).
    pub gate: String,
    /// The limit.
    pub limit: f64,
    /// The measured value.
    pub value: f64,
    /// Whether the value is within the limit.
    pub passed: bool,
    /// What was measured, and for a failure by how much it missed and where.
    pub detail: String,
}

/// A limit on a value that must stay at or below it (`upper`) or at or above it.
fn check(gate: &str, limit: f64, value: f64, upper: bool, what: String) -> GateResult {
    let passed = if upper {
        value <= limit + 1e-12
    } else {
        value >= limit - 1e-12
    };
    let detail = if passed {
        what
    } else {
        let by = (value - limit).abs();
        format!("{what}: misses the limit {} by {}", fmt(limit), fmt(by))
    };
    GateResult {
        gate: gate.into(),
        limit,
        value,
        passed,
        detail,
    }
}

/// A figure with enough digits for fractions and byte counts alike.
pub fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

/// Every configured gate, plus the target's flash and RAM budgets, on `m`.
pub fn evaluate(
    gates: &Gates,
    m: &Metrics,
    flash_budget: Option<u64>,
    ram_budget: Option<u64>,
) -> Vec<GateResult> {
    let mut out = Vec::new();
    if let Some(c) = &m.classification {
        if let Some(l) = gates.max_top1_drop {
            out.push(check(
                "max_top1_drop",
                l,
                c.top1_drop,
                true,
                format!(
                    "top-1 {:.2}% (drop {:.2} points)",
                    100.0 * c.top1,
                    100.0 * c.top1_drop
                ),
            ));
        }
        if let Some(l) = gates.max_topk_drop {
            out.push(check(
                "max_topk_drop",
                l,
                c.topk_drop,
                true,
                format!(
                    "top-{} {:.2}% (drop {:.2} points)",
                    c.k,
                    100.0 * c.topk,
                    100.0 * c.topk_drop
                ),
            ));
        }
        let worst = |groups: &[super::evaluate::GroupAccuracy]| {
            groups
                .iter()
                .max_by(|a, b| a.drop.total_cmp(&b.drop))
                .cloned()
        };
        for (key, limit, groups, kind) in [
            ("max_class_drop", gates.max_class_drop, &c.classes, "class"),
            (
                "max_segment_drop",
                gates.max_segment_drop,
                &c.segments,
                "segment",
            ),
        ] {
            let Some(l) = limit else { continue };
            match worst(groups) {
                Some(g) => out.push(check(
                    key,
                    l,
                    g.drop,
                    true,
                    format!(
                        "worst {kind} '{}' drops {:.2} points ({} samples)",
                        g.name,
                        100.0 * g.drop,
                        g.samples
                    ),
                )),
                None => out.push(GateResult {
                    gate: key.into(),
                    limit: l,
                    value: f64::NAN,
                    passed: false,
                    detail: format!("no {kind} information in the validation data"),
                }),
            }
        }
    } else {
        for (key, set) in [
            ("max_top1_drop", gates.max_top1_drop),
            ("max_topk_drop", gates.max_topk_drop),
            ("max_class_drop", gates.max_class_drop),
            ("max_segment_drop", gates.max_segment_drop),
        ] {
            if let Some(l) = set {
                out.push(GateResult {
                    gate: key.into(),
                    limit: l,
                    value: f64::NAN,
                    passed: false,
                    detail: "needs class labels in the validation data and task = classification"
                        .into(),
                });
            }
        }
    }
    let errors = &m.output_errors;
    let plain = [
        (
            "max_kl",
            gates.max_kl,
            m.kl_mean,
            true,
            "mean KL divergence",
        ),
        (
            "max_kl_p95",
            gates.max_kl_p95,
            m.kl_p95,
            true,
            "p95 KL divergence",
        ),
        (
            "min_agreement",
            gates.min_agreement,
            m.agreement,
            false,
            "top-1 agreement",
        ),
        ("max_mae", gates.max_mae, errors.mae, true, "output MAE"),
        ("max_rmse", gates.max_rmse, errors.rmse, true, "output RMSE"),
        (
            "max_error",
            gates.max_error,
            errors.max,
            true,
            "largest output error",
        ),
        (
            "min_correlation",
            gates.min_correlation,
            errors.correlation,
            false,
            "output correlation",
        ),
    ];
    for (key, limit, value, upper, what) in plain {
        if let Some(l) = limit {
            out.push(check(
                key,
                l,
                value,
                upper,
                format!("{what} {}", fmt(value)),
            ));
        }
    }
    let budgets = [
        (
            "max_flash",
            gates.max_flash.map(|s| s.0),
            m.flash_bytes,
            "artifact",
        ),
        ("target.flash", flash_budget, m.flash_bytes, "artifact"),
        ("max_ram", gates.max_ram.map(|s| s.0), m.ram_bytes, "arena"),
        ("target.ram", ram_budget, m.ram_bytes, "arena"),
    ];
    for (key, limit, value, what) in budgets {
        if let Some(l) = limit {
            out.push(check(
                key,
                l as f64,
                value as f64,
                true,
                format!("{what} {value} bytes"),
            ));
        }
    }
    if gates.edge_cases_must_match {
        match &m.edge_cases {
            Some(e) => out.push(GateResult {
                gate: "edge_cases_must_match".into(),
                limit: 0.0,
                value: e.changed.len() as f64,
                passed: e.changed.is_empty(),
                detail: if e.changed.is_empty() {
                    format!("all {} edge cases keep their prediction", e.samples)
                } else {
                    format!(
                        "{} of {} edge cases change their prediction (indices {:?})",
                        e.changed.len(),
                        e.samples,
                        e.changed
                    )
                },
            }),
            None => out.push(GateResult {
                gate: "edge_cases_must_match".into(),
                limit: 0.0,
                value: f64::NAN,
                passed: false,
                detail: "no edge cases were run".into(),
            }),
        }
    }
    out
}
