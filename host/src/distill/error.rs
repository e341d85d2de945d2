//! Why distillation failed: each error names the node, operator, tensor or shapes involved.

use crate::error::CompileError;

/// Why a student could not be built, trained or written back.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    /// The student model could not be read or imported.
    #[error(transparent)]
    Import(#[from] CompileError),
    /// A node the trainer cannot run (yet), or an attribute combination it does not handle.
    #[error("node '{node}' ({op}) with input shapes {shapes}: {reason}")]
    Unsupported {
        /// Node name.
        node: String,
        /// Operator.
        op: String,
        /// Input shapes.
        shapes: String,
        /// What is not supported.
        reason: String,
    },
    /// A trainable weight that cannot be rewritten in the ONNX file.
    #[error("weight '{tensor}' {shape:?} of node '{node}' ({op}): {reason}")]
    Weight {
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
    /// A node failed while running (forward or backward), with its context.
    #[error("node '{node}' ({op}) with input shapes {shapes}: {error}")]
    Node {
        /// Node name.
        node: String,
        /// Operator.
        op: String,
        /// Input shapes at run time.
        shapes: String,
        /// The tensor engine's error.
        error: Box<candle_core::Error>,
    },
    /// The loss, its gradients or the optimizer step failed.
    #[error("training step: {0}")]
    Train(Box<candle_core::Error>),
    /// The data does not fit the models (shapes, labels, sample counts).
    #[error("data: {0}")]
    Data(String),
    /// The teacher could not be run.
    #[error("teacher: {0}")]
    Teacher(String),
    /// An option is out of range.
    #[error("{0}")]
    Options(String),
}

// Not `#[from]`: that would make the engine's error the source too, and printed twice.
impl From<candle_core::Error> for DistillError {
    fn from(e: candle_core::Error) -> Self {
        DistillError::Train(Box::new(e))
    }
}
