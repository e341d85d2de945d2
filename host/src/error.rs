//! Host errors: each names the file, node, operator or shapes involved.

use std::fmt;

/// A node whittle cannot compile, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// Node name.
    pub node: String,
    /// ONNX operator type.
    pub op_type: String,
    /// What is not supported (operator, attribute, data type, shape).
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "node '{}' ({}): {}",
            self.node, self.op_type, self.reason
        )
    }
}

fn list(items: &[Unsupported]) -> String {
    items.iter().map(|u| format!("\n  - {u}")).collect()
}

/// Why a model could not be imported or compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The model file could not be read or decoded.
    #[error("cannot read model '{path}': {reason}")]
    Read {
        /// Model path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The ONNX graph is structurally invalid.
    #[error("invalid ONNX model: {0}")]
    Malformed(String),
    /// Nodes that cannot be compiled, all of them.
    #[error("{} node(s) cannot be compiled:{}", .0.len(), list(.0))]
    Unsupported(Vec<Unsupported>),
    /// A graph input's shape or type is unusable.
    #[error("input '{name}': {reason}")]
    Input {
        /// Input name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The calibration samples do not fit the model or hold unusable values.
    #[error("calibration data: {0}")]
    Calibration(String),
    /// An option given to the compiler is invalid.
    #[error("{0}")]
    Options(String),
    /// A node failed during lowering (a bug or an unhandled case), with its context.
    #[error("node '{node}' ({op}) with input shapes {shapes}: {reason}")]
    Node {
        /// Node name.
        node: String,
        /// Operator.
        op: String,
        /// Input shapes.
        shapes: String,
        /// What went wrong.
        reason: String,
    },
    /// The compiled model does not fit the target's memory.
    #[error("model does not fit target '{target}': {reason}")]
    Budget {
        /// Target profile.
        target: String,
        /// Which budget is exceeded, by how much.
        reason: String,
    },
}
