//! Everything that can stop a firmware, printed before it exits with status 1.

use core::fmt;
use whittle_runtime::{DType, InvokeError, LoadError};

/// Why a firmware run failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// `Model::load` rejected the artifact.
    Load(LoadError),
    /// The interpreter refused to bind or run.
    Invoke(InvokeError),
    /// The model does not have exactly one input and at least one output.
    Io {
        /// Inputs of the model.
        inputs: usize,
        /// Outputs of the model.
        outputs: usize,
    },
    /// The example inputs are not a whole, non-zero number of samples.
    Samples {
        /// Bytes of example inputs.
        bytes: usize,
        /// Bytes of one sample (the model input).
        sample_bytes: usize,
    },
    /// Output 0 holds elements this firmware does not rank.
    Output(DType),
    /// The firmware's arena is smaller than the model needs.
    Arena {
        /// Bytes the model needs.
        needed: u32,
        /// Bytes the firmware has.
        got: u32,
    },
    /// The static arena was already handed out.
    ArenaTaken,
    /// The board's instruction counter could not be set up.
    Counter,
    /// Writing the report failed.
    Write,
    /// The embedded validation vectors do not fit the model: they cannot be run.
    BadVectors,
    /// The embedded validation vectors did not reproduce the host's results.
    Validation {
        /// Output elements that differ.
        mismatches: u32,
        /// First operator whose output checksum differs.
        layer: Option<u16>,
    },
}

impl Error {
    /// One word for the station's verdict line (`self-test: FAIL <reason>`).
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Load(LoadError::ChecksumMismatch { .. } | LoadError::DigestMismatch) => {
                "integrity"
            }
            Error::Load(_) => "load",
            Error::Invoke(_) => "inference",
            Error::Io { .. } => "io",
            Error::Samples { .. } => "samples",
            Error::Output(_) => "output",
            Error::Arena { .. } | Error::ArenaTaken => "arena",
            Error::Counter => "counter",
            Error::Write => "write",
            Error::BadVectors => "vectors",
            Error::Validation { .. } => "validation",
        }
    }
}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        Error::Load(e)
    }
}

impl From<InvokeError> for Error {
    fn from(e: InvokeError) -> Self {
        match e {
            InvokeError::ArenaTooSmall { needed, got } => Error::Arena { needed, got },
            e => Error::Invoke(e),
        }
    }
}

impl From<fmt::Error> for Error {
    fn from(_: fmt::Error) -> Self {
        Error::Write
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Load(e) => write!(f, "cannot load model: {e}"),
            Error::Invoke(e) => write!(f, "inference failed: {e}"),
            Error::Io { inputs, outputs } => write!(
                f,
                "the model has {inputs} input(s) and {outputs} output(s); this firmware feeds one input and ranks output 0"
            ),
            Error::Samples {
                bytes,
                sample_bytes,
            } => write!(
                f,
                "the example inputs ({bytes} bytes) are not a whole number of {sample_bytes}-byte samples"
            ),
            Error::Output(dtype) => write!(f, "output 0 is {dtype:?}; expected f32 or i8"),
            Error::Arena { needed, got } => write!(
                f,
                "arena too small: the model needs {needed} bytes, this firmware has {got} (rebuild with WHITTLE_ARENA={needed})"
            ),
            Error::ArenaTaken => f.write_str("the static arena was already taken"),
            Error::Counter => f.write_str("the instruction counter is unavailable"),
            Error::Write => f.write_str("writing the report failed"),
            Error::BadVectors => {
                f.write_str("the embedded validation vectors do not fit the model or its weights")
            }
            Error::Validation { mismatches, layer } => {
                write!(
                    f,
                    "validation failed: {mismatches} output element(s) differ"
                )?;
                match layer {
                    Some(index) => write!(f, ", first diverging layer #{index}"),
                    None => Ok(()),
                }
            }
        }
    }
}
