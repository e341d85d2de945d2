//! Per-group ratios from a sensitivity report: among all combinations of the measured points,
//! the one with the least predicted drop whose MACs (or float32 parameter bytes) meet the
//! target. Drops measured one group at a time are assumed to add up, and so are savings while
//! searching (a small knapsack over the groups); the cost of the chosen combination is then
//! computed exactly, and the search asks for more savings until it meets the target.

use super::sensitivity::{Point, SensitivityReport};
use super::{Amount, Analysis, PruneError, Scores, Selection};

/// The selection meeting `amount` (a MAC target or a flash budget) with the least predicted
/// drop, and the ratio chosen for each group (0 for untouched groups).
pub fn allocate(
    analysis: &Analysis,
    scores: &Scores,
    report: &SensitivityReport,
    amount: Amount,
    round_to: usize,
) -> Result<(Selection, Vec<f64>), PruneError> {
    let groups = analysis.groups();
    let mut curves: Vec<_> = groups
        .iter()
        .map(|g| {
            report
                .groups
                .iter()
                .find(|s| s.group == g.name)
                .map(|s| s.points.clone())
                .unwrap_or_default()
        })
        .collect();
    // The cost to meet, the unpruned cost, and the share of it to save.
    let (goal, baseline, mut need) = match amount.check()? {
        Amount::TargetMacs(t) => (
            (t * analysis.baseline_macs() as f64).floor() as u64,
            analysis.baseline_macs(),
            1.0 - t,
        ),
        Amount::TargetFlash(budget) => {
            // The knapsack reads each point's cost share: here, of the parameter bytes.
            let base = analysis.baseline_parameter_bytes().max(1) as f64;
            for (k, curve) in curves.iter_mut().enumerate() {
                for p in curve.iter_mut() {
                    let part = analysis.select_group(scores, k, p.ratio, round_to);
                    p.macs_share = analysis.parameter_bytes(&part) as f64 / base;
                }
            }
            (
                budget,
                analysis.baseline_parameter_bytes(),
                1.0 - budget as f64 / base,
            )
        }
        Amount::Ratio(_) => {
            return Err(PruneError::Options(
                "per-group ratios from a sensitivity report need a MAC target or a flash budget"
                    .into(),
            ));
        }
    };
    let cost = |s: &Selection| match amount {
        Amount::TargetFlash(_) => analysis.parameter_bytes(s),
        _ => analysis.macs(s),
    };
    while need <= 1.0 {
        let Some(chosen) = cheapest(&curves, need) else {
            break;
        };
        let mut selection = Selection::none();
        let mut ratios = vec![0.0; groups.len()];
        for (k, point) in chosen.iter().enumerate() {
            if let Some(p) = point {
                ratios[k] = curves[k][*p].ratio;
                let part = analysis.select_group(scores, k, ratios[k], round_to);
                selection.removed.extend(part.removed);
            }
        }
        if cost(&selection) <= goal {
            return Ok((selection, ratios));
        }
        // Savings of coupled groups overlap (a Conv between two pruned groups): ask for more.
        need += 0.01;
    }
    let everything: Vec<Option<usize>> = curves.iter().map(|c| c.len().checked_sub(1)).collect();
    let mut selection = Selection::none();
    for (k, point) in everything.iter().enumerate() {
        if let Some(p) = point {
            let part = analysis.select_group(scores, k, curves[k][*p].ratio, round_to);
            selection.removed.extend(part.removed);
        }
    }
    Err(match amount {
        Amount::TargetFlash(budget) => PruneError::FlashUnreachable {
            budget,
            reached: cost(&selection),
        },
        Amount::TargetMacs(t) => PruneError::Unreachable {
            target: 100.0 * t,
            reached: 100.0 * cost(&selection) as f64 / baseline.max(1) as f64,
        },
        Amount::Ratio(_) => unreachable!("refused above"),
    })
}

/// Resolution of MAC savings in the knapsack.
const BINS: usize = 1000;

/// One point per group (or none) minimizing the summed drop with summed savings of at least
/// `need` (share of the original MACs).
fn cheapest(curves: &[Vec<Point>], need: f64) -> Option<Vec<Option<usize>>> {
    let need = ((need * BINS as f64).ceil() as usize).min(BINS);
    // best[s] = (drop, choices) with savings (in bins, capped) s.
    let mut best: Vec<Option<(f64, Vec<Option<usize>>)>> = vec![None; BINS + 1];
    best[0] = Some((0.0, Vec::new()));
    for curve in curves {
        let mut next: Vec<Option<(f64, Vec<Option<usize>>)>> = vec![None; BINS + 1];
        for (s, entry) in best.iter().enumerate() {
            let Some((drop, choices)) = entry else {
                continue;
            };
            let options = std::iter::once((0usize, 0.0, None)).chain(curve.iter().enumerate().map(
                |(p, point)| {
                    let saved = ((1.0 - point.macs_share).max(0.0) * BINS as f64).floor() as usize;
                    (saved, point.drop.max(0.0), Some(p))
                },
            ));
            for (saved, cost, choice) in options {
                let t = (s + saved).min(BINS);
                let total = drop + cost;
                if next[t].as_ref().is_none_or(|(d, _)| total < *d) {
                    let mut c = choices.clone();
                    c.push(choice);
                    next[t] = Some((total, c));
                }
            }
        }
        best = next;
    }
    best.into_iter()
        .skip(need)
        .flatten()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
