//! Which operators this build of the runtime can run, chosen by cargo features.
//!
//! The wire format never changes with the features: every operator keeps its variant index,
//! and an operator left out only loses its decoder and its kernel, so `Model::load` can name it
//! (`OpFault::NotCompiledIn`) instead of failing to decode.

use super::OpKind;
use serde::Deserializer;
use serde::de::Error as _;

/// One cargo feature of the runtime, as a bit of a feature set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature(u16);

impl Feature {
    /// float32 operators.
    pub const FLOAT: Feature = Feature(1 << 0);
    /// int8 operators.
    pub const INT8: Feature = Feature(1 << 1);
    /// Convolution, including depthwise.
    pub const CONV: Feature = Feature(1 << 2);
    /// Fully connected layers.
    pub const DENSE: Feature = Feature(1 << 3);
    /// Batched matrix products.
    pub const MATMUL: Feature = Feature(1 << 4);
    /// Element-wise binary operators.
    pub const BINARY: Feature = Feature(1 << 5);
    /// Element-wise unary operators.
    pub const UNARY: Feature = Feature(1 << 6);
    /// Softmax.
    pub const SOFTMAX: Feature = Feature(1 << 7);
    /// Pooling, windowed and global.
    pub const POOL: Feature = Feature(1 << 8);
    /// Transpose, block copies and padding.
    pub const LAYOUT: Feature = Feature(1 << 9);
    /// Table lookups.
    pub const LOOKUP: Feature = Feature(1 << 10);
    /// Quantize, Dequantize, Requantize.
    pub const QUANTIZE: Feature = Feature(1 << 11);
    /// int8 convolution and fully connected layers with sparse (bitmap-encoded) weights.
    pub const SPARSE: Feature = Feature(1 << 12);

    /// Every feature, in the runtime's order.
    pub const ALL_FEATURES: [Feature; 13] = [
        Self::FLOAT,
        Self::INT8,
        Self::CONV,
        Self::DENSE,
        Self::MATMUL,
        Self::BINARY,
        Self::UNARY,
        Self::SOFTMAX,
        Self::POOL,
        Self::LAYOUT,
        Self::LOOKUP,
        Self::QUANTIZE,
        Self::SPARSE,
    ];

    const ALL: [(Feature, &'static str, bool); 13] = [
        (Self::FLOAT, "float", cfg!(feature = "float")),
        (Self::INT8, "int8", cfg!(feature = "int8")),
        (Self::CONV, "conv", cfg!(feature = "conv")),
        (Self::DENSE, "dense", cfg!(feature = "dense")),
        (Self::MATMUL, "matmul", cfg!(feature = "matmul")),
        (Self::BINARY, "binary", cfg!(feature = "binary")),
        (Self::UNARY, "unary", cfg!(feature = "unary")),
        (Self::SOFTMAX, "softmax", cfg!(feature = "softmax")),
        (Self::POOL, "pool", cfg!(feature = "pool")),
        (Self::LAYOUT, "layout", cfg!(feature = "layout")),
        (Self::LOOKUP, "lookup", cfg!(feature = "lookup")),
        (Self::QUANTIZE, "quantize", cfg!(feature = "quantize")),
        (Self::SPARSE, "sparse", cfg!(feature = "sparse")),
    ];

    /// The feature's bit in a feature set (also its rank in the runtime's listing).
    pub fn bit(self) -> u16 {
        self.0
    }

    /// The cargo feature's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("", |(_, name, _)| name)
    }

    /// Whether this build has the feature.
    pub fn enabled(self) -> bool {
        Self::ALL.iter().any(|&(f, _, on)| f == self && on)
    }
}

/// The features each operator needs, by its variant index in [`OpKind`] (the wire order).
const NEEDS: [&[Feature]; 23] = {
    use Feature as F;
    [
        &[F::FLOAT, F::CONV],            // Conv2d
        &[F::FLOAT, F::DENSE],           // Dense
        &[F::FLOAT, F::MATMUL],          // MatMul
        &[F::FLOAT, F::BINARY],          // Binary
        &[F::FLOAT, F::UNARY],           // Unary
        &[F::FLOAT, F::SOFTMAX],         // Softmax
        &[F::FLOAT, F::POOL],            // Pool2d
        &[F::FLOAT, F::POOL],            // GlobalPool
        &[F::LAYOUT],                    // Transpose
        &[F::LAYOUT],                    // Copy
        &[F::LAYOUT],                    // Pad
        &[F::INT8, F::CONV],             // Conv2dI8
        &[F::INT8, F::DENSE],            // DenseI8
        &[F::INT8, F::BINARY],           // BinaryI8
        &[F::INT8, F::POOL],             // Pool2dI8
        &[F::INT8, F::POOL],             // GlobalPoolI8
        &[F::INT8, F::SOFTMAX],          // SoftmaxI8
        &[F::INT8, F::LOOKUP],           // LookupI8
        &[F::INT8, F::QUANTIZE],         // RequantizeI8
        &[F::QUANTIZE],                  // Quantize
        &[F::QUANTIZE],                  // Dequantize
        &[F::INT8, F::CONV, F::SPARSE],  // Conv2dI8Sparse
        &[F::INT8, F::DENSE, F::SPARSE], // DenseI8Sparse
    ]
};

/// Features needed by the operator with this variant index (`None` for an unknown index).
pub fn features_for_variant(variant: u32) -> Option<&'static [Feature]> {
    NEEDS.get(usize::try_from(variant).ok()?).copied()
}

/// Whether the operator with this variant index is known and compiled into this build.
pub fn variant_compiled_in(variant: u32) -> bool {
    features_for_variant(variant).is_some_and(|needs| needs.iter().all(|f| f.enabled()))
}

impl OpKind {
    /// The operator's variant index, as written in artifacts.
    pub fn variant_index(&self) -> u32 {
        match self {
            OpKind::Conv2d(_) => 0,
            OpKind::Dense(_) => 1,
            OpKind::MatMul(_) => 2,
            OpKind::Binary(_) => 3,
            OpKind::Unary(_) => 4,
            OpKind::Softmax(_) => 5,
            OpKind::Pool2d(_) => 6,
            OpKind::GlobalPool(_) => 7,
            OpKind::Transpose(_) => 8,
            OpKind::Copy(_) => 9,
            OpKind::Pad(_) => 10,
            OpKind::Conv2dI8(_) => 11,
            OpKind::DenseI8(_) => 12,
            OpKind::BinaryI8(_) => 13,
            OpKind::Pool2dI8(_) => 14,
            OpKind::GlobalPoolI8(_) => 15,
            OpKind::SoftmaxI8(_) => 16,
            OpKind::LookupI8(_) => 17,
            OpKind::RequantizeI8(_) => 18,
            OpKind::Quantize(_) => 19,
            OpKind::Dequantize(_) => 20,
            OpKind::Conv2dI8Sparse(_) => 21,
            OpKind::DenseI8Sparse(_) => 22,
        }
    }

    /// The runtime cargo features this operator needs.
    pub fn required_features(&self) -> &'static [Feature] {
        features_for_variant(self.variant_index()).unwrap_or(&[])
    }
}

/// The variant index of the operator encoded at the start of `op_bytes` (an `OpDesc`: its
/// tensor index, then the variant index, both varints).
pub(crate) fn encoded_variant(op_bytes: &[u8]) -> Option<u32> {
    let ((_tensor, variant), _) = postcard::take_from_bytes::<(u32, u32)>(op_bytes).ok()?;
    Some(variant)
}

/// Decoder of an operator left out of this build: always an error, and it keeps the
/// operator's parameter decoder out of the image.
#[allow(dead_code)] // unused when every operator is compiled in
pub(crate) fn not_compiled_in<'de, D: Deserializer<'de>, T>(_: D) -> Result<T, D::Error> {
    Err(D::Error::custom("operator not compiled into this runtime"))
}
