//! Why an artifact cannot be exported.

use whittle_runtime::LoadError;

/// An export failure: the artifact is not one, or an operator has no faithful ONNX form.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The bytes are not a valid artifact.
    #[error("not a valid artifact: {0}")]
    Load(LoadError),
    /// An operator cannot be written as ONNX without changing what it computes.
    #[error("op {index} ({op}): {reason}")]
    Unsupported {
        /// Operator index in execution order.
        index: usize,
        /// Operator kind, as `inspect` names it.
        op: &'static str,
        /// What stands in the way.
        reason: String,
    },
    /// An operand's element count does not match the shape the operator reads it as.
    #[error("op {index} ({op}): operand of shape {from:?} cannot be read as {to:?}")]
    Shape {
        /// Operator index in execution order.
        index: usize,
        /// Operator kind.
        op: &'static str,
        /// Shape of the value the operand holds.
        from: Vec<i64>,
        /// Shape the operator reads.
        to: Vec<i64>,
    },
    /// An operator reads arena bytes that neither a model input nor an earlier operator wrote
    /// as a whole.
    #[error(
        "op {index} ({op}): reads arena bytes {offset}..{end} that no input or earlier operator wrote as one tensor"
    )]
    UnknownOperand {
        /// Operator index in execution order.
        index: usize,
        /// Operator kind.
        op: &'static str,
        /// First byte.
        offset: u32,
        /// One past the last byte.
        end: u64,
    },
    /// A model output is not in the arena after the last operator.
    #[error("output '{name}' (shape {shape:?}) is not written by any operator")]
    MissingOutput {
        /// Output tensor name.
        name: String,
        /// Its shape.
        shape: Vec<u32>,
    },
}

// By hand rather than `#[from]`: the message already holds the load error, and as a source it
// would be printed twice in an error chain.
impl From<LoadError> for ExportError {
    fn from(e: LoadError) -> Self {
        ExportError::Load(e)
    }
}
