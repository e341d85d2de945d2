//! Structured channel pruning: whole channels are removed from every tensor they are coupled
//! with (bias, BatchNorm, the next layers' inputs, depthwise filters, residual branches,
//! Concat slices, Gemm columns after Flatten), so the model gets smaller and faster on any
//! kernel, and the result is written back as a float ONNX model.
//!
//! [`Analysis::new`] imports the model and finds the dependency groups; [`Analysis::scores`]
//! rates channels by a weight [`Criterion`] and [`Analysis::taylor_scores`] by first-order
//! Taylor importance on data ([`taylor`]); [`Analysis::select`] picks channels for a ratio, a
//! MAC target or a flash budget; [`Analysis::apply`] writes the pruned model. [`sensitivity`] measures each group's
//! pruning alone on data, and [`Analysis::select_by_sensitivity`] spends a MAC budget where it
//! costs the least. [`Analysis::mask_reference`] is an independent check: the unpruned model
//! with the removed channels zeroed, which the pruned model must match.

mod allocate;
mod apply;
mod error;
mod groups;
mod importance;
mod macs;
mod mask;
mod params;
mod rules;
mod select;
pub mod sensitivity;
pub mod sparsity;
pub mod taylor;
mod write;

pub use error::PruneError;
pub use groups::Group;
pub use importance::Criterion;
pub use params::parameter_count;
pub use select::{Scope, Selection};

use crate::error::CompileError;
use crate::import::{ImportOptions, import};
use crate::ir::Graph;
use crate::onnx::pb;
use groups::Dependencies;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// How much to prune.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Amount {
    /// Share of channels to remove (0..1), per group or globally.
    Ratio(f64),
    /// Share of the original MACs to keep (0..1).
    TargetMacs(f64),
    /// Bytes the float32 parameters may take (4 per element of every float constant, as
    /// [`parameter_count`] counts them).
    TargetFlash(u64),
}

impl Amount {
    /// Checks the range: a ratio in [0, 1), a MAC share in (0, 1].
    pub fn check(self) -> Result<Self, PruneError> {
        match self {
            Amount::Ratio(r) if (0.0..1.0).contains(&r) => Ok(self),
            Amount::Ratio(r) => Err(PruneError::Options(format!(
                "the pruning ratio must be in [0, 1), not {r}"
            ))),
            Amount::TargetMacs(t) if t > 0.0 && t <= 1.0 => Ok(self),
            Amount::TargetMacs(t) => Err(PruneError::Options(format!(
                "the MAC target must be in (0, 1], not {t}"
            ))),
            Amount::TargetFlash(0) => Err(PruneError::Options(
                "the flash budget must be more than 0 bytes".into(),
            )),
            Amount::TargetFlash(_) => Ok(self),
        }
    }
}

/// Pruning options.
#[derive(Debug, Clone, PartialEq)]
pub struct PruneOptions {
    /// How channels are rated.
    pub criterion: Criterion,
    /// How much to remove.
    pub amount: Amount,
    /// Per group or global ranking.
    pub scope: Scope,
    /// Every pruned group keeps a multiple of this many channels.
    pub round_to: usize,
}

/// Importance of every channel class, normalized per group.
#[derive(Debug, Clone)]
pub struct Scores(HashMap<usize, f64>);

/// A model analysed for pruning: its imported graph and dependency groups.
#[derive(Debug, Clone)]
pub struct Analysis {
    model: pb::ModelProto,
    dir: Option<PathBuf>,
    import_options: ImportOptions,
    parameters: u64,
    graph: Graph,
    deps: Dependencies,
    baseline_macs: u64,
}

/// A pruned model and what was removed.
#[derive(Debug, Clone)]
pub struct Pruned {
    /// The pruned float model.
    pub model: pb::ModelProto,
    /// The removed channels.
    pub selection: Selection,
    /// The ratio applied to every group (found by search for a MAC target); `None` when the
    /// groups got different ratios from a sensitivity report.
    pub ratio: Option<f64>,
    /// MACs before.
    pub macs_before: u64,
    /// MACs after.
    pub macs_after: u64,
    /// Per group: name, channels before, channels after.
    pub groups: Vec<(String, usize, usize)>,
}

impl Analysis {
    /// Imports `model` (`dir` resolves external data) and finds its dependency groups. Every
    /// node must be importable: pruning rewrites the whole graph.
    pub fn new(
        model: &pb::ModelProto,
        dir: Option<&Path>,
        import_options: &ImportOptions,
    ) -> Result<Self, PruneError> {
        let imported = import(model, dir, import_options)?;
        if !imported.unsupported.is_empty() {
            return Err(CompileError::Unsupported(imported.unsupported).into());
        }
        if let Some((node, op)) = imported.blocked.first() {
            return Err(CompileError::Node {
                node: node.clone(),
                op: op.clone(),
                shapes: "unknown".into(),
                reason: "inputs could not be analysed".into(),
            }
            .into());
        }
        let graph = imported.graph;
        let deps = groups::analyse(&graph);
        let baseline_macs = macs::macs(&graph, &deps, &Default::default());
        Ok(Analysis {
            model: model.clone(),
            dir: dir.map(Path::to_path_buf),
            import_options: import_options.clone(),
            parameters: parameter_count(model) as u64,
            graph,
            deps,
            baseline_macs,
        })
    }

    /// The dependency groups, in the order their first source runs.
    pub fn groups(&self) -> &[Group] {
        &self.deps.groups
    }

    /// The channel importance by a weight criterion; [`Criterion::Taylor`] needs data and is
    /// an error here (see [`Analysis::taylor_scores`]).
    pub fn scores(&self, criterion: Criterion) -> Result<Scores, PruneError> {
        importance::weight_scores(&self.graph, &self.deps, criterion)
            .map(|raw| Scores(importance::normalize(&self.deps, &raw)))
            .ok_or_else(|| {
                PruneError::Options(
                    "criterion taylor measures importance on data: give --data FILE.npz".into(),
                )
            })
    }

    /// First-order Taylor importance measured on the first `limit` samples of `data` (see
    /// [`taylor`]).
    pub fn taylor_scores(
        &self,
        data: &sensitivity::EvalData,
        limit: usize,
    ) -> Result<Scores, PruneError> {
        let raw = taylor::scores(
            &self.model,
            self.dir.as_deref(),
            &self.import_options,
            &self.graph,
            &self.deps,
            data,
            limit,
        )?;
        Ok(Scores(importance::normalize(&self.deps, &raw)))
    }

    /// The channel importance by any criterion: Taylor on `data` (at most `limit` samples),
    /// which it then needs, the others from the weights.
    pub fn scores_on(
        &self,
        criterion: Criterion,
        data: Option<&sensitivity::EvalData>,
        limit: usize,
    ) -> Result<Scores, PruneError> {
        match (criterion, data) {
            (Criterion::Taylor, Some(data)) => self.taylor_scores(data, limit),
            _ => self.scores(criterion),
        }
    }

    /// Importance of each channel class of group `group`, in channel order.
    pub fn group_scores(&self, scores: &Scores, group: usize) -> Vec<f64> {
        self.deps.groups[group]
            .classes
            .iter()
            .map(|c| scores.0.get(c).copied().unwrap_or(0.0))
            .collect()
    }

    /// Bytes of the float32 parameters of the unpruned model (4 per element of every float
    /// initializer and Constant node, as [`parameter_count`] counts them).
    pub fn baseline_parameter_bytes(&self) -> u64 {
        4 * self.parameters
    }

    /// Bytes of the float32 parameters with `selection` removed.
    pub fn parameter_bytes(&self, selection: &Selection) -> u64 {
        4 * (self.parameters - params::removed(&self.graph, &self.deps, &selection.removed))
    }

    /// MACs of the unpruned model.
    pub fn baseline_macs(&self) -> u64 {
        self.baseline_macs
    }

    /// MACs with `selection` removed.
    pub fn macs(&self, selection: &Selection) -> u64 {
        macs::macs(&self.graph, &self.deps, &selection.removed)
    }

    /// Channels each group keeps under `selection`, in [`Analysis::groups`] order.
    pub fn kept_channels(&self, selection: &Selection) -> Vec<usize> {
        self.deps
            .groups
            .iter()
            .map(|g| {
                g.classes
                    .iter()
                    .filter(|c| !selection.removed.contains(c))
                    .count()
            })
            .collect()
    }

    /// The channels to remove for `amount`, and the ratio that gives it.
    pub fn select(
        &self,
        scores: &Scores,
        amount: Amount,
        scope: Scope,
        round_to: usize,
    ) -> Result<(f64, Selection), PruneError> {
        if round_to == 0 {
            return Err(PruneError::Options("--round-to must be at least 1".into()));
        }
        let at = |ratio| select::by_ratio(&self.deps, &scores.0, ratio, scope, round_to);
        match amount.check()? {
            Amount::Ratio(r) => Ok((r, at(r))),
            Amount::TargetMacs(t) => {
                let target = (t * self.baseline_macs as f64).floor() as u64;
                select::for_budget(target, |ratio| {
                    let s = at(ratio);
                    let m = self.macs(&s);
                    (s, m)
                })
                .map_err(|reached| PruneError::Unreachable {
                    target: 100.0 * t,
                    reached: 100.0 * reached as f64 / self.baseline_macs.max(1) as f64,
                })
            }
            Amount::TargetFlash(budget) => select::for_budget(budget, |ratio| {
                let s = at(ratio);
                let b = self.parameter_bytes(&s);
                (s, b)
            })
            .map_err(|reached| PruneError::FlashUnreachable { budget, reached }),
        }
    }

    /// The channels to remove when only group `group` loses `ratio` of its channels.
    pub fn select_group(
        &self,
        scores: &Scores,
        group: usize,
        ratio: f64,
        round_to: usize,
    ) -> Selection {
        select::one_group(&self.deps, &scores.0, group, ratio, round_to.max(1))
    }

    /// The pruned model. It is imported again before it is returned, so a dependency the
    /// analysis missed is an error here rather than a broken file.
    pub fn apply(&self, selection: &Selection) -> Result<pb::ModelProto, PruneError> {
        let pruned = apply::apply(
            &self.model,
            self.dir.as_deref(),
            &self.graph,
            &self.deps,
            &selection.removed,
        )?;
        let options = ImportOptions {
            input_shapes: self
                .graph
                .inputs
                .iter()
                .map(|&v| {
                    (
                        Some(self.graph.values[v].name.clone()),
                        self.graph.shape(v).to_vec(),
                    )
                })
                .collect(),
            frozen_inputs: Vec::new(),
        };
        let check =
            import(&pruned, self.dir.as_deref(), &options).map_err(PruneError::Inconsistent)?;
        if !check.unsupported.is_empty() {
            return Err(PruneError::Inconsistent(CompileError::Unsupported(
                check.unsupported,
            )));
        }
        Ok(pruned)
    }

    /// The unpruned model with every removed channel zeroed where it is read: a reference the
    /// pruned model must agree with.
    pub fn mask_reference(&self, selection: &Selection) -> Result<pb::ModelProto, PruneError> {
        mask::mask_reference(&self.model, &self.graph, &self.deps, &selection.removed)
    }

    /// Per-group ratios that meet `amount` (a MAC target or a flash budget) with the least
    /// drop predicted by a sensitivity report, and the selection they give.
    pub fn select_by_sensitivity(
        &self,
        scores: &Scores,
        report: &sensitivity::SensitivityReport,
        amount: Amount,
        round_to: usize,
    ) -> Result<(Vec<f64>, Selection), PruneError> {
        let (selection, ratios) =
            allocate::allocate(self, scores, report, amount, round_to.max(1))?;
        Ok((ratios, selection))
    }

    /// Selects and applies in one step (a weight criterion; see [`Analysis::prune_with`]).
    pub fn prune(&self, options: &PruneOptions) -> Result<Pruned, PruneError> {
        self.prune_with(&self.scores(options.criterion)?, options)
    }

    /// Selects by `scores` (whatever `options.criterion` says) and applies in one step.
    pub fn prune_with(
        &self,
        scores: &Scores,
        options: &PruneOptions,
    ) -> Result<Pruned, PruneError> {
        let (ratio, selection) =
            self.select(scores, options.amount, options.scope, options.round_to)?;
        self.pruned(selection, Some(ratio))
    }

    /// Applies `selection` and describes the result; `ratio` is the one ratio it was chosen
    /// with, if any.
    pub fn pruned(&self, selection: Selection, ratio: Option<f64>) -> Result<Pruned, PruneError> {
        let model = self.apply(&selection)?;
        let groups = self
            .deps
            .groups
            .iter()
            .zip(self.kept_channels(&selection))
            .map(|(g, kept)| (g.name.clone(), g.channels(), kept))
            .collect();
        Ok(Pruned {
            model,
            ratio,
            macs_before: self.baseline_macs,
            macs_after: self.macs(&selection),
            selection,
            groups,
        })
    }
}
