//! The postcard header: target, memory plan, tensor table, model I/O and operators.

use super::{Buf, ConvGeometry, OpDesc, Section, Shape, Space};
use crate::DType;
use serde::{Deserialize, Serialize};

/// How weights are laid out in the blob; each layout has its own kernels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
#[non_exhaustive]
pub enum WeightLayout {
    /// The layouts the reference kernels document (row-major, output channel first).
    #[default]
    Reference = 0,
    /// Float32 convolution and fully connected weights that live in the weight blob are packed
    /// in blocks of [`WEIGHT_BLOCK`] output channels, the channel innermost, so that one 8-lane vector
    /// load gives one weight for eight output channels:
    ///
    /// - `Conv2d` (any `groups`, depthwise included):
    ///   `[ceil(out_c / 8)][kernel_h][kernel_w][in_c / groups][8]`, element
    ///   `[b][ky][kx][i][l]` being reference weight `[8b + l][ky][kx][i]`;
    /// - `Dense`: `[ceil(out_features / 8)][in_features][8]`, element `[b][i][l]` being
    ///   reference weight `[8b + l][i]`.
    ///
    /// Lanes past the last output channel hold `0.0`. Every other buffer (bias, int8 weights,
    /// `MatMul` operands, a weight operand computed in the arena) keeps the reference layout.
    Blocked8 = 1,
    /// int8 convolutions with one group that the optimized pointwise or gathered kernels run
    /// ([`crate::kernels::conv::widens`]), whose weights live in the weight blob, store them
    /// widened to 16-bit lanes for the Arm DSP extension's `SMLAD`, four output channels
    /// interleaved: little-endian 32-bit words
    /// `[ceil(out_c / 4)][ceil(filter_len / 4)][4][2]`, where word `[b][g][l][0]` holds
    /// reference weights `[4b + l][4g]` (low half) and `[4b + l][4g + 2]` (high half), and word
    /// `[b][g][l][1]` holds `[4b + l][4g + 1]` and `[4b + l][4g + 3]`; weights past the filter
    /// or the last channel are 0. A filter is `kernel_h * kernel_w * in_c` values in reference
    /// order. The kernels read these words as they are, with no arrangement step on the stack
    /// and no length limit. Every other buffer keeps the reference layout.
    Widened4 = 2,
}

/// Output channels per block of [`WeightLayout::Blocked8`].
pub const WEIGHT_BLOCK: usize = 8;

impl WeightLayout {
    /// The layout a header's `layout` byte names, if any.
    pub const fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(WeightLayout::Reference),
            1 => Some(WeightLayout::Blocked8),
            2 => Some(WeightLayout::Widened4),
            _ => None,
        }
    }

    /// Whether this build of the runtime has kernels for the layout: `Blocked8` needs the
    /// `float` feature (it changes only float32 weights), `Widened4` the `int8` and
    /// `fast-kernels` ones (its kernels are the optimized convolution's loops).
    pub const fn supported(self) -> bool {
        match self {
            WeightLayout::Reference => true,
            WeightLayout::Blocked8 => cfg!(feature = "float"),
            WeightLayout::Widened4 => cfg!(all(feature = "int8", feature = "fast-kernels")),
        }
    }

    /// The name target profiles use (`weight_layout = "blocked8"`).
    pub const fn name(self) -> &'static str {
        match self {
            WeightLayout::Reference => "reference",
            WeightLayout::Blocked8 => "blocked8",
            WeightLayout::Widened4 => "widened4",
        }
    }

    /// The layout a target profile names.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            WeightLayout::Reference,
            WeightLayout::Blocked8,
            WeightLayout::Widened4,
        ]
        .into_iter()
        .find(|l| l.name() == name)
    }

    /// Whether `weights`, the weights of a float32 `Conv2d` or `Dense`, are packed in this
    /// layout: with `Blocked8`, when they live in the weight blob (weights computed in the
    /// arena keep the reference layout).
    pub fn packs(self, weights: Buf) -> bool {
        self == WeightLayout::Blocked8 && weights.space == Space::Weights
    }

    /// Whether `weights`, the weights of an int8 `Conv2d` of geometry `geom`, are widened in
    /// this layout: with `Widened4`, when they live in the weight blob and the convolution is
    /// one the layout covers ([`crate::kernels::conv::widens`]).
    pub fn widens(self, geom: &ConvGeometry, weights: Buf) -> bool {
        self == WeightLayout::Widened4
            && weights.space == Space::Weights
            && crate::kernels::conv::widens(geom)
    }

    /// Elements of a packed buffer for `channels` output channels of `per_channel` weights
    /// each: `ceil(channels / 8) * per_channel * 8`, `None` on overflow.
    pub fn blocked_len(channels: u32, per_channel: u64) -> Option<u64> {
        u64::from(channels.div_ceil(WEIGHT_BLOCK as u32))
            .checked_mul(per_channel)?
            .checked_mul(WEIGHT_BLOCK as u64)
    }
}

/// The artifact header.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Header<'a> {
    /// Name of the tool that wrote the artifact, with its version.
    #[serde(borrow)]
    pub producer: &'a str,
    /// Target profile the artifact was compiled for (e.g. `cortex-m4f`, `generic`).
    pub target: &'a str,
    /// Weight layout id (a [`WeightLayout`] discriminant).
    pub layout: u8,
    /// Arena bytes the memory plan needs.
    pub arena_bytes: u32,
    /// Largest total size of activations alive at one time: no plan can use less without
    /// in-place reuse.
    pub arena_lower_bound_bytes: u32,
    /// Named tensors: model I/O and every operator output.
    #[serde(borrow)]
    pub tensors: Section<'a, TensorDesc<'a>>,
    /// Model inputs, in ONNX order.
    #[serde(borrow)]
    pub inputs: Section<'a, IoDesc>,
    /// Model outputs, in ONNX order.
    #[serde(borrow)]
    pub outputs: Section<'a, IoDesc>,
    /// Operators in execution order.
    #[serde(borrow)]
    pub ops: Section<'a, OpDesc>,
    /// Vectors for the on-device self-test ([`crate::validate()`]), when the compiler embedded
    /// them.
    pub validation: Option<Validation>,
}

/// Validation vectors in the weight blob: inputs, the outputs the bit-exact host run gave, and
/// the CRC-32 of every operator's output for the first vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validation {
    /// Number of vectors (at least one).
    pub vectors: u32,
    /// Every vector's inputs back to back: per vector, each model input's bytes in order.
    pub inputs: Buf,
    /// Every vector's expected outputs, laid out like `inputs`.
    pub outputs: Buf,
    /// One little-endian `u32` per operator: CRC-32 of its output bytes for vector 0.
    pub layer_checksums: Buf,
}

/// A named tensor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TensorDesc<'a> {
    /// Name from the source model (shortened).
    #[serde(borrow)]
    pub name: &'a str,
    /// Element type.
    pub dtype: DType,
    /// Logical shape, as the source model states it.
    pub shape: Shape,
    /// Where the data lives.
    pub buf: Buf,
    /// Scale and zero point of an int8 tensor (`real = scale * (q - zero_point)`).
    pub quant: Option<TensorQuant>,
}

/// Quantization of an int8 tensor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TensorQuant {
    /// Scale.
    pub scale: f32,
    /// Zero point.
    pub zero_point: i32,
}

/// A model input or output: an index into the tensor table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoDesc {
    /// Index into [`Header::tensors`].
    pub tensor: u32,
}
