//! The `.wtl` artifact format, shared by the compiler (which writes it) and the runtime.
//!
//! ```text
//! offset 0   preamble, 32 bytes, little-endian: magic, format version, flags, header length,
//!            weights offset, weights length, total length
//! offset 32  header: postcard-encoded [`Header`]; its sections (tensors, inputs, outputs,
//!            ops) are themselves postcard sequences read one element at a time, so the
//!            runtime decodes them in place without allocating
//! aligned 16 weight blob, read in place by the kernels (and any validation vectors)
//! 32 bytes   SHA-256 of every byte before it, when the preamble's flags have [`FLAG_SHA256`]
//! last 4     CRC-32 of every byte before it
//! ```

mod fields;
mod header;
mod int8;
mod ops;
mod opset;
mod params;
mod preamble;
mod section;
mod sparse;

pub use header::{Header, IoDesc, TensorDesc, TensorQuant, Validation, WEIGHT_BLOCK, WeightLayout};
pub use int8::{
    BinaryI8, BinaryKindI8, Conv2dI8, DenseI8, Dequantize, LookupI8, Pool2dI8, Quantize, Requant,
    RequantizeI8, SoftmaxI8,
};
pub use ops::{OpDesc, OpKind};
pub(crate) use opset::encoded_variant;
pub use opset::{Feature, features_for_variant, variant_compiled_in};
pub use params::{
    Activation, Binary, BinaryKind, Conv2d, ConvGeometry, Copy, Dense, GlobalPool, MatMul, Pad,
    Pool2d, PoolGeometry, PoolKind, Softmax, Transpose, Unary, UnaryKind,
};
pub use preamble::{MAGIC, PREAMBLE_LEN, Preamble};
pub use section::{Section, SectionIter};
pub use sparse::{Conv2dI8Sparse, DenseI8Sparse, SparseI8, bitmap_row_bytes};

use serde::{Deserialize, Serialize};

/// Version of the artifact format this crate reads and writes.
pub const FORMAT_VERSION: u32 = 3;
/// Alignment of the weight blob inside the artifact, and of every weight tensor in it.
pub const WEIGHT_ALIGN: usize = 16;
/// Alignment of the arena start and of every activation offset in it.
pub const ARENA_ALIGN: usize = 16;
/// Highest tensor rank an operator handles.
pub const MAX_RANK: usize = 6;
/// Bytes taken by the CRC-32 trailer.
pub const CRC_LEN: usize = 4;
/// Bytes taken by the SHA-256 digest before the CRC-32 trailer.
pub const DIGEST_LEN: usize = 32;
/// Preamble flag: a SHA-256 digest of the preamble, header and weights precedes the CRC-32.
pub const FLAG_SHA256: u32 = 1;
/// Every preamble flag this runtime understands.
pub const KNOWN_FLAGS: u32 = FLAG_SHA256;

/// Where a buffer lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Space {
    /// The caller's arena (read-write).
    Arena,
    /// The artifact's weight blob (read-only, in place).
    Weights,
}

/// A byte range in the arena or the weight blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Buf {
    /// Arena or weights.
    pub space: Space,
    /// Byte offset from the start of the space.
    pub offset: u32,
    /// Length in bytes.
    pub bytes: u32,
}

impl Buf {
    /// A buffer in the arena.
    pub const fn arena(offset: u32, bytes: u32) -> Self {
        Buf {
            space: Space::Arena,
            offset,
            bytes,
        }
    }

    /// A buffer in the weight blob.
    pub const fn weights(offset: u32, bytes: u32) -> Self {
        Buf {
            space: Space::Weights,
            offset,
            bytes,
        }
    }

    /// One past the last byte, widened so it cannot overflow.
    pub const fn end(&self) -> u64 {
        self.offset as u64 + self.bytes as u64
    }

    /// Whether two buffers share at least one byte.
    pub const fn overlaps(&self, other: &Buf) -> bool {
        self.bytes > 0
            && other.bytes > 0
            && matches!(
                (self.space, other.space),
                (Space::Arena, Space::Arena) | (Space::Weights, Space::Weights)
            )
            && (self.offset as u64) < other.end()
            && (other.offset as u64) < self.end()
    }
}

/// A tensor shape of rank at most [`MAX_RANK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shape {
    rank: u8,
    dims: [u32; MAX_RANK],
}

impl Shape {
    /// A shape from its dimensions; `None` when the rank exceeds [`MAX_RANK`].
    pub fn new(dims: &[u32]) -> Option<Self> {
        if dims.len() > MAX_RANK {
            return None;
        }
        let mut all = [1u32; MAX_RANK];
        all[..dims.len()].copy_from_slice(dims);
        Some(Shape {
            rank: dims.len() as u8,
            dims: all,
        })
    }

    /// The dimensions (empty for a scalar).
    pub fn dims(&self) -> &[u32] {
        &self.dims[..usize::from(self.rank).min(MAX_RANK)]
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        usize::from(self.rank).min(MAX_RANK)
    }

    /// Number of elements, or `None` if it overflows `u32` or the rank is invalid.
    pub fn elements(&self) -> Option<u32> {
        if usize::from(self.rank) > MAX_RANK {
            return None;
        }
        self.dims()
            .iter()
            .try_fold(1u32, |acc, &d| acc.checked_mul(d))
    }

    /// The dimensions left-padded with ones to [`MAX_RANK`] (for broadcasting kernels).
    pub fn padded(&self) -> [u32; MAX_RANK] {
        let mut out = [1u32; MAX_RANK];
        for (o, &d) in out.iter_mut().rev().zip(self.dims().iter().rev()) {
            *o = d;
        }
        out
    }
}
