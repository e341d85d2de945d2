//! What an artifact holds, for `whittle inspect` and tools.

use serde::Serialize;
use whittle_runtime::format::{OpKind, Space};
use whittle_runtime::{LoadError, Model};

/// One operator as `inspect` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct OpSummary {
    /// Operator name (e.g. `Conv2d`, `DepthwiseConv2d`).
    pub op: String,
    /// Name of its output tensor.
    pub output: String,
    /// Physical shape of its output.
    pub shape: Vec<u32>,
    /// Arena offset of its output.
    pub arena_offset: u32,
    /// Weight bytes it reads.
    pub weight_bytes: u64,
    /// Multiply-accumulates per inference (0 for data movement).
    pub macs: u64,
    /// For an operator with sparse weights: bytes the encoding saves over dense int8 weights
    /// (values, bitmap and row offsets against one byte per weight), else 0.
    pub sparse_saved_bytes: i64,
}

/// A model input or output.
#[derive(Debug, Clone, Serialize)]
pub struct IoSummary {
    /// Name.
    pub name: String,
    /// Element type.
    pub dtype: String,
    /// Shape.
    pub shape: Vec<u32>,
    /// Scale of an int8 tensor (`real = scale * (q - zero_point)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<f32>,
    /// Zero point of an int8 tensor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zero_point: Option<i32>,
}

/// The summary `inspect` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Artifact format version.
    pub format_version: u32,
    /// Tool that wrote it.
    pub producer: String,
    /// Target profile.
    pub target: String,
    /// Weight layout (`reference`; `blocked8`: float32 convolution and fully connected
    /// weights packed; `widened4`: int8 convolution weights widened).
    pub weight_layout: String,
    /// Artifact size.
    pub artifact_bytes: usize,
    /// Weight blob size.
    pub weight_bytes: usize,
    /// Arena size the plan needs.
    pub arena_bytes: usize,
    /// Activation liveness lower bound.
    pub arena_lower_bound_bytes: usize,
    /// Operator names in execution order.
    pub ops: Vec<String>,
    /// Operators with details.
    pub op_details: Vec<OpSummary>,
    /// Model inputs.
    pub inputs: Vec<IoSummary>,
    /// Model outputs.
    pub outputs: Vec<IoSummary>,
    /// Total multiply-accumulates per inference.
    pub macs: u64,
    /// The weight blob by role, in bytes (without alignment padding).
    pub weight_breakdown: WeightBreakdown,
    /// Embedded validation vectors, if any.
    pub validation: Option<ValidationSummary>,
    /// The runtime's cargo features this model's operators need (a firmware that runs only
    /// this model can build the runtime with just these, `default-features = false`).
    pub runtime_features: Vec<String>,
    /// The SHA-256 digest the artifact carries (hex), checked on load with the runtime's
    /// `sha256` feature.
    pub sha256: Option<String>,
    /// Operators with sparse weights.
    pub sparse_ops: usize,
    /// Bytes their sparse encodings save over dense int8 weights.
    pub sparse_saved_bytes: i64,
}

/// What the embedded validation vectors take.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationSummary {
    /// Number of vectors.
    pub vectors: u32,
    /// Bytes of inputs, expected outputs and layer checksums together.
    pub bytes: u64,
}

/// What the weight blob holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WeightBreakdown {
    /// Convolution and linear weights.
    pub weights: u64,
    /// Biases.
    pub biases: u64,
    /// Requantization multipliers and shifts.
    pub requantization: u64,
    /// Lookup and softmax tables.
    pub tables: u64,
    /// Other constant operands.
    pub constants: u64,
}

fn breakdown(ops: &[OpKind]) -> WeightBreakdown {
    let mut seen = std::collections::HashSet::new();
    let mut b = WeightBreakdown::default();
    let mut add = |buf: Option<whittle_runtime::format::Buf>, slot: &mut u64| {
        if let Some(buf) =
            buf.filter(|b| b.space == Space::Weights && seen.insert((b.offset, b.bytes)))
        {
            *slot += u64::from(buf.bytes);
        }
    };
    for kind in ops {
        match kind {
            OpKind::Conv2d(op) => {
                add(Some(op.weights), &mut b.weights);
                add(op.bias, &mut b.biases);
            }
            OpKind::Dense(op) => {
                add(Some(op.weights), &mut b.weights);
                add(op.bias, &mut b.biases);
            }
            OpKind::Conv2dI8(op) => {
                add(Some(op.weights), &mut b.weights);
                add(op.bias, &mut b.biases);
                add(Some(op.requant.multipliers), &mut b.requantization);
                add(Some(op.requant.shifts), &mut b.requantization);
            }
            OpKind::DenseI8(op) => {
                add(Some(op.weights), &mut b.weights);
                add(op.bias, &mut b.biases);
                add(Some(op.requant.multipliers), &mut b.requantization);
                add(Some(op.requant.shifts), &mut b.requantization);
            }
            OpKind::Conv2dI8Sparse(op) => {
                let c = &op.conv;
                add(Some(c.weights), &mut b.weights);
                add(Some(op.sparse.bitmap), &mut b.weights);
                add(Some(op.sparse.offsets), &mut b.weights);
                add(c.bias, &mut b.biases);
                add(Some(c.requant.multipliers), &mut b.requantization);
                add(Some(c.requant.shifts), &mut b.requantization);
            }
            OpKind::DenseI8Sparse(op) => {
                let d = &op.dense;
                add(Some(d.weights), &mut b.weights);
                add(Some(op.sparse.bitmap), &mut b.weights);
                add(Some(op.sparse.offsets), &mut b.weights);
                add(d.bias, &mut b.biases);
                add(Some(d.requant.multipliers), &mut b.requantization);
                add(Some(d.requant.shifts), &mut b.requantization);
            }
            OpKind::SoftmaxI8(op) => add(Some(op.table), &mut b.tables),
            OpKind::LookupI8(op) => add(Some(op.table), &mut b.tables),
            other => {
                let mut other = *other;
                for buf in other.buffers_mut().skip(1) {
                    add(Some(*buf), &mut b.constants);
                }
            }
        }
    }
    b
}

fn conv_macs(g: &whittle_runtime::format::ConvGeometry) -> u64 {
    [
        g.batch,
        g.out_h,
        g.out_w,
        g.out_c,
        g.kernel_h,
        g.kernel_w,
        g.in_c / g.groups.max(1),
    ]
    .iter()
    .map(|&v| u64::from(v))
    .product()
}

/// Bytes a sparse operator's encoding saves over one byte per weight (0 for other operators).
fn sparse_saved(kind: &OpKind) -> i64 {
    let (dense, encoded) = match kind {
        OpKind::Conv2dI8Sparse(op) => {
            let g = &op.conv.geom;
            let dense = u64::from(g.out_c)
                * u64::from(g.kernel_h)
                * u64::from(g.kernel_w)
                * u64::from(g.in_c / g.groups.max(1));
            (
                dense,
                [op.conv.weights, op.sparse.bitmap, op.sparse.offsets],
            )
        }
        OpKind::DenseI8Sparse(op) => {
            let d = &op.dense;
            let dense = u64::from(d.out_features) * u64::from(d.in_features);
            (dense, [d.weights, op.sparse.bitmap, op.sparse.offsets])
        }
        _ => return 0,
    };
    let encoded: u64 = encoded.iter().map(|b| u64::from(b.bytes)).sum();
    dense as i64 - encoded as i64
}

fn macs(kind: &OpKind) -> u64 {
    match kind {
        OpKind::Conv2dI8Sparse(op) => conv_macs(&op.conv.geom),
        OpKind::DenseI8Sparse(op) => {
            let d = &op.dense;
            u64::from(d.rows) * u64::from(d.in_features) * u64::from(d.out_features)
        }
        OpKind::Conv2d(op) => conv_macs(&op.geom),
        OpKind::Conv2dI8(op) => conv_macs(&op.geom),
        OpKind::Dense(op) => {
            u64::from(op.rows) * u64::from(op.in_features) * u64::from(op.out_features)
        }
        OpKind::DenseI8(op) => {
            u64::from(op.rows) * u64::from(op.in_features) * u64::from(op.out_features)
        }
        OpKind::MatMul(op) => {
            let a = op.a_shape.dims();
            u64::from(op.out_shape.elements().unwrap_or(0)) * u64::from(*a.last().unwrap_or(&0))
        }
        _ => 0,
    }
}

/// The runtime features `ops` need, in the runtime's own order, without repeats.
pub fn runtime_features(ops: impl IntoIterator<Item = OpKind>) -> Vec<String> {
    let mut needed: Vec<whittle_runtime::format::Feature> = Vec::new();
    for op in ops {
        for &feature in op.required_features() {
            if !needed.contains(&feature) {
                needed.push(feature);
            }
        }
    }
    needed.sort_by_key(|f| f.bit());
    needed.iter().map(|f| f.name().to_string()).collect()
}

impl Summary {
    /// Loads and summarizes an artifact.
    pub fn of(bytes: &[u8]) -> Result<Summary, LoadError> {
        let aligned = whittle_runtime::AlignedBytes::new(bytes);
        let model = Model::load(&aligned)?;
        let tensors: Vec<_> = model.tensors().collect();
        let io = |d: Option<whittle_runtime::format::TensorDesc<'_>>| {
            d.map(|d| IoSummary {
                name: d.name.to_string(),
                dtype: format!("{:?}", d.dtype).to_lowercase(),
                shape: d.shape.dims().to_vec(),
                scale: d.quant.map(|q| q.scale),
                zero_point: d.quant.map(|q| q.zero_point),
            })
        };
        let op_details: Vec<OpSummary> = model
            .ops()
            .map(|op| {
                let mut kind = op.kind;
                let weight_bytes = kind
                    .buffers_mut()
                    .filter(|b| b.space == Space::Weights)
                    .map(|b| u64::from(b.bytes))
                    .sum();
                let t = tensors.get(op.tensor as usize);
                OpSummary {
                    op: op.kind.name().to_string(),
                    output: t.map(|t| t.name.to_string()).unwrap_or_default(),
                    shape: t.map(|t| t.shape.dims().to_vec()).unwrap_or_default(),
                    arena_offset: op.kind.output().offset,
                    weight_bytes,
                    macs: macs(&op.kind),
                    sparse_saved_bytes: sparse_saved(&op.kind),
                }
            })
            .collect();
        Ok(Summary {
            format_version: whittle_runtime::format::FORMAT_VERSION,
            producer: model.header().producer.to_string(),
            target: model.target().to_string(),
            weight_layout: model.layout().name().to_string(),
            artifact_bytes: model.artifact_bytes(),
            weight_bytes: model.weights().len(),
            arena_bytes: model.arena_bytes(),
            arena_lower_bound_bytes: model.arena_lower_bound_bytes(),
            ops: op_details.iter().map(|o| o.op.clone()).collect(),
            macs: op_details.iter().map(|o| o.macs).sum(),
            weight_breakdown: breakdown(&model.ops().map(|op| op.kind).collect::<Vec<_>>()),
            op_details,
            inputs: (0..model.input_count())
                .filter_map(|i| io(model.input(i)))
                .collect(),
            outputs: (0..model.output_count())
                .filter_map(|i| io(model.output(i)))
                .collect(),
            runtime_features: runtime_features(model.ops().map(|op| op.kind)),
            sha256: model.digest().map(|d| crate::digest::hex(d)),
            sparse_ops: model
                .ops()
                .filter(|op| {
                    matches!(
                        op.kind,
                        OpKind::Conv2dI8Sparse(_) | OpKind::DenseI8Sparse(_)
                    )
                })
                .count(),
            sparse_saved_bytes: model.ops().map(|op| sparse_saved(&op.kind)).sum(),
            validation: model.header().validation.map(|v| ValidationSummary {
                vectors: v.vectors,
                bytes: [v.inputs, v.outputs, v.layer_checksums]
                    .iter()
                    .map(|b| u64::from(b.bytes))
                    .sum(),
            }),
        })
    }
}
