//! Per-group ratios from a sensitivity report: among all combinations of the measured points,
//! the one with the least predicted drop whose MACs meet the target. Drops measured one group
//! at a time are assumed to add up, and so are MAC savings while searching (a small knapsack
//! over the groups); the MACs of the chosen combination are then computed exactly, and the
//! search asks for more savings until they meet the target.

use super::sensitivity::{Point, SensitivityReport};
use super::{Amount, Analysis, PruneError, Scores, Selection};

/// The selection meeting `target` (share of the original MACs) with the least predicted drop,
/// and the ratio chosen for each group (0 for untouched groups).
pub fn allocate(
    analysis: &Analysis,
    scores: &Scores,
    report: &SensitivityReport,
    target: f64,
    round_to: usize,
) -> Result<(Selection, Vec<f64>), PruneError> {
    Amount::TargetMacs(target).check()?;
    let groups = analysis.groups();
    let curves: Vec<_> = groups
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
    let goal = (target * analysis.baseline_macs() as f64).floor() as u64;
    let mut need = 1.0 - target;
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
        if analysis.macs(&selection) <= goal {
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
    Err(PruneError::Unreachable {
        target: 100.0 * target,
        reached: 100.0 * analysis.macs(&selection) as f64 / analysis.baseline_macs().max(1) as f64,
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
