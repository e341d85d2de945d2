//! Why pruning failed: each error names the node, operator, tensor or shapes involved.

use crate::error::CompileError;

/// Why a model could not be analysed, pruned, written or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The model could not be read or imported.
    #[error(transparent)]
    Import(#[from] CompileError),
    /// A constant that pruning must shrink cannot be rewritten in the ONNX file.
    #[error("tensor '{tensor}' {shape:?} of node '{node}' ({op}): {reason}")]
    Tensor {
        /// The constant.
        tensor: String,
        /// Its shape.
        shape: Vec<usize>,
        /// A node reading it.
        node: String,
        /// That node's operator.
        op: String,
        /// What is wrong.
        reason: String,
    },
    /// An option is invalid (ratio out of range, unknown criterion, ...).
    #[error("{0}")]
    Options(String),
    /// The MAC target cannot be met even with every group pruned as far as allowed.
    #[error(
        "cannot reach {target:.1}% of the MACs: pruning every group as far as allowed leaves {reached:.1}%"
    )]
    Unreachable {
        /// Requested share of the original MACs, in percent.
        target: f64,
        /// Smallest share reachable, in percent.
        reached: f64,
    },
    /// The flash budget cannot be met even with every group pruned as far as allowed.
    #[error(
        "cannot fit the float32 parameters in {budget} bytes: pruning every group as far as allowed leaves {reached} bytes ({} over)",
        reached - budget
    )]
    FlashUnreachable {
        /// The budget, in bytes.
        budget: u64,
        /// The smallest reachable size, in bytes.
        reached: u64,
    },
    /// Building or running the model in candle for Taylor importance failed.
    #[error("taylor importance: {0}")]
    Taylor(Box<crate::distill::DistillError>),
    /// The pruned model does not import cleanly: a dependency the analysis missed.
    #[error("the pruned model is inconsistent: {0}")]
    Inconsistent(CompileError),
    /// Compiling or running a candidate for sensitivity analysis failed.
    #[error("evaluating the model pruned at {what}: {reason}")]
    Evaluate {
        /// Which candidate (group and ratio, or the baseline).
        what: String,
        /// What failed.
        reason: String,
    },
}
