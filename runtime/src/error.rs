//! Typed errors of the runtime: small, `Copy`, and free of allocation.

use core::fmt;

/// Why an artifact was rejected by [`crate::Model::load`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// Fewer bytes than the preamble or the stated total length.
    Truncated {
        /// Bytes the artifact says it has (or the preamble size).
        needed: u32,
        /// Bytes actually provided.
        got: u32,
    },
    /// The first eight bytes are not the `.wtl` magic.
    BadMagic,
    /// The artifact was written for a format version this runtime does not read.
    UnsupportedVersion {
        /// Version found in the artifact.
        found: u32,
        /// Version this runtime reads.
        supported: u32,
    },
    /// The CRC-32 stored at the end does not match the contents.
    ChecksumMismatch {
        /// CRC stored in the artifact.
        stored: u32,
        /// CRC computed over the bytes.
        computed: u32,
    },
    /// The SHA-256 digest stored before the CRC-32 does not match the contents (checked with
    /// the `sha256` feature).
    DigestMismatch,
    /// The preamble sets flag bits this runtime does not know.
    UnsupportedFlags {
        /// The flags found.
        found: u32,
    },
    /// Preamble lengths or offsets are inconsistent with each other.
    BadLayout,
    /// The weight blob is not aligned in memory as typed reads need.
    Misaligned {
        /// Required alignment in bytes.
        required: u32,
    },
    /// The postcard header could not be decoded.
    BadHeader,
    /// Weights are packed for a layout this runtime build has no kernels for.
    UnsupportedLayout {
        /// Layout id found in the artifact.
        found: u8,
    },
    /// The artifact was compiled for another target profile than the one required.
    TargetMismatch,
    /// A tensor or input/output description is invalid.
    InvalidTensor {
        /// Index in the tensor (or I/O) table.
        index: u16,
        /// What is wrong with it.
        fault: OpFault,
    },
    /// An operator description is invalid.
    InvalidOp {
        /// Index of the operator in execution order.
        index: u16,
        /// What is wrong with it.
        fault: OpFault,
    },
}

/// What is wrong with one operator or tensor description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpFault {
    /// The description could not be decoded.
    Undecodable,
    /// A buffer reaches outside the arena or the weight blob.
    OutOfBounds,
    /// A buffer's byte length does not match its shape and element type.
    SizeMismatch,
    /// A buffer is not aligned for its element type.
    Misaligned,
    /// Input and output buffers overlap where the operator does not allow it.
    Overlap,
    /// Shapes are inconsistent with each other or with the parameters.
    BadShape,
    /// A parameter is out of its valid range.
    BadParameter,
    /// The element type is not supported by this operator.
    BadDType,
    /// A tensor that must be writable lives in the read-only weight blob.
    ReadOnly,
    /// The operator was left out of this build of the runtime (see its cargo features).
    NotCompiledIn,
    /// Sparse weights whose bitmap, row offsets and values disagree.
    BadEncoding,
}

/// Why an inference could not run. None of these depend on the artifact's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvokeError {
    /// The arena (after aligning its start to 16 bytes) is smaller than the model needs.
    ArenaTooSmall {
        /// Bytes the model needs, including alignment slack of the given slice.
        needed: u32,
        /// Bytes provided.
        got: u32,
    },
    /// There is no input or output with this index.
    NoSuchTensor {
        /// The index asked for.
        index: u16,
    },
    /// The element type asked for is not the tensor's.
    WrongDType {
        /// The tensor's element type.
        expected: crate::DType,
    },
    /// A slice given for an input or output has the wrong number of elements.
    WrongLength {
        /// Elements the tensor has.
        expected: u32,
        /// Elements given.
        got: u32,
    },
    /// Unreachable for artifacts accepted by `load`; reported instead of panicking.
    Internal {
        /// Operator being run, or `u16::MAX` outside operators.
        op: u16,
    },
}

impl fmt::Display for OpFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpFault::Undecodable => "description cannot be decoded",
            OpFault::OutOfBounds => "buffer out of bounds",
            OpFault::SizeMismatch => "buffer size does not match shape",
            OpFault::Misaligned => "buffer misaligned",
            OpFault::Overlap => "input and output buffers overlap",
            OpFault::BadShape => "inconsistent shapes",
            OpFault::BadParameter => "parameter out of range",
            OpFault::BadDType => "unsupported element type",
            OpFault::ReadOnly => "writable tensor placed in read-only weights",
            OpFault::NotCompiledIn => "operator not compiled into this runtime (cargo features)",
            OpFault::BadEncoding => "sparse weight encoding inconsistent",
        })
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LoadError::Truncated { needed, got } => {
                write!(f, "artifact truncated: needs {needed} bytes, got {got}")
            }
            LoadError::BadMagic => f.write_str("not a whittle artifact (bad magic)"),
            LoadError::UnsupportedVersion { found, supported } => write!(
                f,
                "artifact format version {found} is not supported (this runtime reads version {supported})"
            ),
            LoadError::ChecksumMismatch { stored, computed } => write!(
                f,
                "artifact corrupted: CRC-32 stored {stored:#010x}, computed {computed:#010x}"
            ),
            LoadError::DigestMismatch => {
                f.write_str("artifact corrupted: its SHA-256 digest does not match the contents")
            }
            LoadError::UnsupportedFlags { found } => write!(
                f,
                "artifact preamble flags {found:#x} are not supported by this runtime"
            ),
            LoadError::BadLayout => f.write_str("artifact preamble lengths are inconsistent"),
            LoadError::Misaligned { required } => write!(
                f,
                "artifact weights must be {required}-byte aligned in memory (see AlignedBytes / align the include_bytes! static)"
            ),
            LoadError::BadHeader => f.write_str("artifact header cannot be decoded"),
            LoadError::UnsupportedLayout { found } => {
                write!(
                    f,
                    "weight layout {found} is not supported by this runtime build"
                )
            }
            LoadError::TargetMismatch => f.write_str("artifact was compiled for another target"),
            LoadError::InvalidTensor { index, fault } => write!(f, "tensor {index}: {fault}"),
            LoadError::InvalidOp { index, fault } => write!(f, "operator {index}: {fault}"),
        }
    }
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InvokeError::ArenaTooSmall { needed, got } => {
                write!(f, "arena too small: needs {needed} bytes, got {got}")
            }
            InvokeError::NoSuchTensor { index } => write!(f, "no input/output with index {index}"),
            InvokeError::WrongDType { expected } => {
                write!(f, "wrong element type: tensor holds {expected:?}")
            }
            InvokeError::WrongLength { expected, got } => {
                write!(f, "wrong length: tensor has {expected} elements, got {got}")
            }
            InvokeError::Internal { op } => {
                write!(
                    f,
                    "internal error at operator {op} (artifact changed after load?)"
                )
            }
        }
    }
}

impl core::error::Error for LoadError {}
impl core::error::Error for InvokeError {}
impl core::error::Error for OpFault {}
