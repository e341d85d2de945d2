//! Sparse int8 weights: the int8 convolution and fully connected layers with their weights
//! stored as a bitmap of nonzero positions and the nonzero values packed, for models whose
//! weights are mostly zeros (unstructured pruning). int32 accumulation is exact, so skipping
//! the zeros gives the same bits as the dense operators.
//!
//! The weights are `rows` rows (one per output channel) of `row_len` values each, in the
//! dense operator's order (`[kernel_h][kernel_w][in_c / groups]` for a convolution,
//! `[in_features]` for a fully connected layer):
//!
//! - `bitmap`: `rows x ceil(row_len / 8)` bytes; bit `i % 8` (least significant first) of
//!   byte `i / 8` of a row is set when weight `i` of the row is nonzero; the unused bits of a
//!   row's last byte are zero.
//! - `weights` of the embedded dense operator: the nonzero values, row after row, in order.
//! - `offsets`: `rows + 1` u32 (stored as i32), where row `r`'s values start; `offsets[0]` is
//!   0, `offsets[r + 1] - offsets[r]` is the popcount of row `r`'s bitmap and
//!   `offsets[rows]` is the number of values.

use super::Buf;
use super::int8::{Conv2dI8, DenseI8};
use serde::{Deserialize, Serialize};

/// Where the positions of the nonzero weights are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseI8 {
    /// `[rows][ceil(row_len / 8)]` bytes, one bit per weight.
    pub bitmap: Buf,
    /// `[rows + 1]` start offsets of each row's values (u32, stored as i32).
    pub offsets: Buf,
}

/// int8 convolution whose `conv.weights` holds only the nonzero weights ([`SparseI8`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Conv2dI8Sparse {
    /// The convolution; its `weights` are the packed nonzero values.
    pub conv: Conv2dI8,
    /// Bitmap and row offsets.
    pub sparse: SparseI8,
}

/// int8 fully connected layer whose `dense.weights` holds only the nonzero weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DenseI8Sparse {
    /// The layer; its `weights` are the packed nonzero values.
    pub dense: DenseI8,
    /// Bitmap and row offsets.
    pub sparse: SparseI8,
}

/// Bytes of one bitmap row of `row_len` weights.
pub const fn bitmap_row_bytes(row_len: usize) -> usize {
    row_len.div_ceil(8)
}
