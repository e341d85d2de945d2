//! Choosing the channels to remove: a ratio per group or one global ranking, channel counts
//! rounded to a multiple the kernels like, or the ratio that meets a MAC target or a flash
//! budget.

use super::groups::{Dependencies, Group};
use std::collections::{BTreeSet, HashMap};

/// How a ratio is spread over the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every group loses the same share of its channels.
    PerGroup,
    /// One ranking over all groups (importance normalized per group): unimportant layers lose
    /// more.
    Global,
}

/// The channels chosen for removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub(crate) removed: BTreeSet<usize>,
}

impl Selection {
    /// Nothing removed.
    pub fn none() -> Self {
        Selection::default()
    }

    /// Number of channel classes removed (a class spans every tensor it is coupled with).
    pub fn removed_channels(&self) -> usize {
        self.removed.len()
    }
}

/// Channels a group loses when `want` are asked for: it keeps a multiple of `round_to`
/// (rounded up, so pruning never removes more than asked), at least one channel and every
/// channel that cannot be removed.
pub fn rounded_removal(group: &Group, want: usize, round_to: usize) -> usize {
    let total = group.channels();
    let round_to = round_to.max(1);
    let keep = (total - want.min(total)).div_ceil(round_to) * round_to;
    let keep = keep
        .max(round_to.min(total))
        .max(1)
        .min(total)
        .max(total - group.prunable());
    total - keep
}

/// Removes the `count` least important prunable classes of `group`.
fn lowest(group: &Group, scores: &HashMap<usize, f64>, count: usize, out: &mut BTreeSet<usize>) {
    let mut ranked: Vec<(usize, usize)> = group.prunable.iter().copied().enumerate().collect();
    let score = |c: &usize| scores.get(c).copied().unwrap_or(0.0);
    // Ties go to the later channel, so the choice is deterministic.
    ranked.sort_by(|a, b| score(&a.1).total_cmp(&score(&b.1)).then(b.0.cmp(&a.0)));
    out.extend(ranked.iter().take(count).map(|&(_, c)| c));
}

/// Channels to remove for `ratio` (0..=1) of every group's channels.
pub fn by_ratio(
    deps: &Dependencies,
    scores: &HashMap<usize, f64>,
    ratio: f64,
    scope: Scope,
    round_to: usize,
) -> Selection {
    let want: Vec<usize> = match scope {
        Scope::PerGroup => deps
            .groups
            .iter()
            .map(|g| (ratio * g.channels() as f64).round() as usize)
            .collect(),
        Scope::Global => {
            let total: usize = deps.groups.iter().map(Group::channels).sum();
            let budget = (ratio * total as f64).round() as usize;
            let mut ranked: Vec<(f64, usize)> = deps
                .groups
                .iter()
                .enumerate()
                .flat_map(|(k, g)| g.prunable.iter().map(move |c| (k, *c)))
                .map(|(k, c)| (scores.get(&c).copied().unwrap_or(0.0), k))
                .collect();
            ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut want = vec![0usize; deps.groups.len()];
            let mut taken = 0;
            for (_, k) in ranked {
                if taken == budget {
                    break;
                }
                // Every group keeps at least one channel.
                if want[k] + 1 < deps.groups[k].channels() {
                    want[k] += 1;
                    taken += 1;
                }
            }
            want
        }
    };
    let mut removed = BTreeSet::new();
    for (group, want) in deps.groups.iter().zip(want) {
        lowest(
            group,
            scores,
            rounded_removal(group, want, round_to),
            &mut removed,
        );
    }
    Selection { removed }
}

/// Channels to remove for `ratio` of one group only (the others untouched).
pub fn one_group(
    deps: &Dependencies,
    scores: &HashMap<usize, f64>,
    group: usize,
    ratio: f64,
    round_to: usize,
) -> Selection {
    let g = &deps.groups[group];
    let want = (ratio * g.channels() as f64).round() as usize;
    let mut removed = BTreeSet::new();
    lowest(g, scores, rounded_removal(g, want, round_to), &mut removed);
    Selection { removed }
}

/// The smallest ratio whose selection costs at most `target` (MACs or parameter bytes), by
/// bisection (the cost only falls as the ratio grows). An error when even the largest ratio
/// does not reach it, with the cost it reaches.
pub fn for_budget(
    target: u64,
    mut cost_at: impl FnMut(f64) -> (Selection, u64),
) -> Result<(f64, Selection), u64> {
    let (mut best, reached) = cost_at(1.0);
    if reached > target {
        return Err(reached);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..30 {
        let mid = 0.5 * (lo + hi);
        let (selection, cost) = cost_at(mid);
        if cost <= target {
            hi = mid;
            best = selection;
        } else {
            lo = mid;
        }
    }
    Ok((hi, best))
}
