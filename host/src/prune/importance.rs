//! How much each channel matters: L1 or L2 norm of the filters producing it, or the scale of
//! the BatchNorm that normalizes it (read before folding, where it still means something).
//! The data-driven Taylor criterion is computed in [`super::taylor`]; every criterion is
//! normalized per group here.

use super::groups::{Dependencies, Role};
use crate::ir::Graph;
use crate::tensor::Tensor;
use std::collections::HashMap;

/// The importance criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Sum of absolute filter weights.
    L1,
    /// Euclidean norm of the filter weights.
    L2,
    /// Absolute BatchNorm scale (gamma); groups without a BatchNorm fall back to L2.
    BnScale,
    /// First-order Taylor importance measured on data (gradient x activation, see
    /// [`super::taylor`]); needs samples.
    Taylor,
}

impl Criterion {
    /// Parses `l1`, `l2`, `bn-scale` or `taylor`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "l1" => Ok(Criterion::L1),
            "l2" => Ok(Criterion::L2),
            "bn-scale" => Ok(Criterion::BnScale),
            "taylor" => Ok(Criterion::Taylor),
            other => Err(format!(
                "unknown criterion '{other}'; use l1, l2, bn-scale or taylor"
            )),
        }
    }

    /// The name `parse` takes.
    pub fn name(self) -> &'static str {
        match self {
            Criterion::L1 => "l1",
            Criterion::L2 => "l2",
            Criterion::BnScale => "bn-scale",
            Criterion::Taylor => "taylor",
        }
    }
}

/// Per index along `axis` of `t`: the sum of `f` over that slice.
fn per_index(t: &Tensor, axis: usize, f: impl Fn(f32) -> f64) -> Vec<f64> {
    let values = t.to_f32();
    let outer: usize = t.shape[..axis].iter().product();
    let len = t.shape[axis];
    let inner: usize = t.shape[axis + 1..].iter().product();
    let mut sums = vec![0.0; len];
    for o in 0..outer {
        for (c, sum) in sums.iter_mut().enumerate() {
            let start = (o * len + c) * inner;
            *sum += values[start..start + inner]
                .iter()
                .map(|&v| f(v))
                .sum::<f64>();
        }
    }
    sums
}

/// Raw scores per class from the slots of `role`, with `f` applied per element and `finish`
/// per slot and index.
fn from_slots(
    g: &Graph,
    deps: &Dependencies,
    role: Role,
    f: impl Fn(f32) -> f64 + Copy,
    finish: impl Fn(f64) -> f64,
) -> HashMap<usize, f64> {
    let mut scores = HashMap::new();
    for slot in deps.slots.iter().filter(|s| s.role == role) {
        let Some(t) = g.konst(slot.value) else {
            continue;
        };
        let sums = per_index(t, slot.axis, f);
        for (class, sum) in deps.classes(&slot.layout).zip(sums) {
            *scores.entry(class).or_insert(0.0) += finish(sum);
        }
    }
    scores
}

/// Raw importance of every class by a weight criterion (`None` for [`Criterion::Taylor`],
/// which needs data).
pub fn weight_scores(
    g: &Graph,
    deps: &Dependencies,
    criterion: Criterion,
) -> Option<HashMap<usize, f64>> {
    let l1 = || from_slots(g, deps, Role::Producer, |v| f64::from(v.abs()), |s| s);
    let l2 = || {
        from_slots(
            g,
            deps,
            Role::Producer,
            |v| f64::from(v) * f64::from(v),
            f64::sqrt,
        )
    };
    let raw = match criterion {
        Criterion::L1 => l1(),
        Criterion::L2 => l2(),
        Criterion::BnScale => {
            let bn = from_slots(g, deps, Role::BnScale, |v| f64::from(v.abs()), |s| s);
            let fallback = l2();
            let mut merged = HashMap::new();
            for group in &deps.groups {
                let source = if group.classes.iter().all(|c| bn.contains_key(c)) {
                    &bn
                } else {
                    &fallback
                };
                for &c in &group.classes {
                    merged.insert(c, source.get(&c).copied().unwrap_or(0.0));
                }
            }
            merged
        }
        Criterion::Taylor => return None,
    };
    Some(raw)
}

/// `raw` normalized to a mean of 1 within each group, so that a global ranking compares
/// layers of different weight scales fairly.
pub fn normalize(deps: &Dependencies, raw: &HashMap<usize, f64>) -> HashMap<usize, f64> {
    let mut normalized = HashMap::new();
    for group in &deps.groups {
        let values: Vec<f64> = group
            .classes
            .iter()
            .map(|c| raw.get(c).copied().unwrap_or(0.0))
            .collect();
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        for (&c, v) in group.classes.iter().zip(values) {
            normalized.insert(c, if mean > 0.0 { v / mean } else { v });
        }
    }
    normalized
}
