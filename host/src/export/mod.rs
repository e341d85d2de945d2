//! `whittle export-onnx`: an artifact written back out as an ONNX model that other runtimes
//! run. Integer operators become QDQ groups (`DequantizeLinear` of the int8 operands and of
//! the int8 weights and int32 biases, the float operator, `QuantizeLinear` of the result);
//! float operators become plain ONNX operators. The graph follows the artifact's operators
//! one by one on their physical (channels-last) data, so it computes what the artifact
//! computes, up to the rounding of float arithmetic; its inputs and outputs have the
//! artifact's names, types and shapes.

mod error;
mod float;
mod geometry;
mod graph;
mod int8;
mod layout;
mod scales;

pub use error::ExportError;
pub use scales::real_multiplier;

use crate::onnx::build::GraphBuilder;
use crate::onnx::pb;
use graph::{Exporter, PREFIX, Value, dims_of, elem_type};
use prost::Message;
use whittle_runtime::format::{OpDesc, OpKind, TensorDesc};
use whittle_runtime::{AlignedBytes, Model};

/// ONNX opset of exported models: per-axis `QuantizeLinear`/`DequantizeLinear` (13),
/// `HardSwish` (14), `ReduceMean` with an `axes` attribute (until 17).
pub const OPSET: i64 = 17;

/// What an export produced.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The ONNX model.
    pub model: pb::ModelProto,
    /// Artifact operators exported.
    pub ops: usize,
    /// Of which integer operators (each a QDQ group, or an exact `Gather` for a lookup).
    pub integer_ops: usize,
}

impl Exported {
    /// The serialized model.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.model.encode_to_vec()
    }

    /// Number of ONNX nodes.
    pub fn nodes(&self) -> usize {
        self.model.graph.as_ref().map_or(0, |g| g.node.len())
    }
}

fn declare(x: &mut Exporter<'_>, desc: &TensorDesc<'_>) -> Result<Value, ExportError> {
    let dims = dims_of(desc);
    let et = elem_type(desc.dtype).ok_or_else(|| ExportError::Unsupported {
        index: 0,
        op: "input",
        reason: format!("input '{}' has element type {:?}", desc.name, desc.dtype),
    })?;
    x.b.typed_input(desc.name, et, &dims);
    Ok(Value {
        name: desc.name.to_string(),
        dims,
        dtype: desc.dtype,
        quant: desc.quant,
        partial: false,
    })
}

fn is_integer(kind: &OpKind) -> bool {
    matches!(
        kind,
        OpKind::Conv2dI8(_)
            | OpKind::DenseI8(_)
            | OpKind::BinaryI8(_)
            | OpKind::Pool2dI8(_)
            | OpKind::GlobalPoolI8(_)
            | OpKind::SoftmaxI8(_)
            | OpKind::LookupI8(_)
            | OpKind::RequantizeI8(_)
    )
}

fn emit(x: &mut Exporter<'_>, op: &OpDesc) -> Result<(), ExportError> {
    let t = op.tensor;
    match &op.kind {
        OpKind::Conv2d(o) => float::conv(x, t, o),
        OpKind::Dense(o) => float::dense(x, t, o),
        OpKind::MatMul(o) => float::matmul(x, t, o),
        OpKind::Binary(o) => float::binary(x, t, o),
        OpKind::Unary(o) => float::unary(x, t, o),
        OpKind::Softmax(o) => float::softmax(x, t, o),
        OpKind::Pool2d(o) => float::pool(x, t, o),
        OpKind::GlobalPool(o) => float::global_pool(x, t, o),
        OpKind::Transpose(o) => layout::transpose(x, t, o),
        OpKind::Copy(o) => layout::copy(x, t, o),
        OpKind::Pad(o) => layout::pad(x, t, o),
        OpKind::Conv2dI8(o) => int8::conv(x, t, o),
        OpKind::DenseI8(o) => int8::dense(x, t, o),
        OpKind::BinaryI8(o) => int8::binary(x, t, o),
        OpKind::Pool2dI8(o) => int8::pool(x, t, o),
        OpKind::GlobalPoolI8(o) => int8::global_pool(x, t, o),
        OpKind::SoftmaxI8(o) => int8::softmax(x, t, o),
        OpKind::LookupI8(o) => int8::lookup(x, t, o),
        OpKind::RequantizeI8(o) => int8::requantize_op(x, t, o),
        OpKind::Quantize(o) => int8::quantize(x, t, o),
        OpKind::Dequantize(o) => int8::dequantize(x, t, o),
        #[allow(unreachable_patterns)]
        _ => Err(x.fail("has no ONNX form in this version")),
    }
}

/// Exports the artifact `bytes` as an ONNX model (the artifact is fully verified first).
pub fn export(bytes: &[u8]) -> Result<Exported, ExportError> {
    let aligned = AlignedBytes::new(bytes);
    let model = Model::load(&aligned)?;
    let builder = GraphBuilder::new(model.target(), OPSET).with_prefix(PREFIX);
    let mut x = Exporter::new(builder, model.tensors().collect(), model.weights());
    x.layout = model.layout();
    for i in 0..model.input_count() {
        if let Some(desc) = model.input(i) {
            let value = declare(&mut x, &desc)?;
            x.write(desc.buf, value);
        }
    }
    let (mut ops, mut integer_ops) = (0, 0);
    for (index, op) in model.ops().enumerate() {
        x.index = index;
        x.op = op.kind.name();
        emit(&mut x, &op)?;
        ops += 1;
        integer_ops += usize::from(is_integer(&op.kind));
    }
    x.index = ops;
    x.op = "output";
    for o in 0..model.output_count() {
        let Some(desc) = model.output(o) else {
            continue;
        };
        let missing = || ExportError::MissingOutput {
            name: desc.name.to_string(),
            shape: desc.shape.dims().to_vec(),
        };
        let value = x.take_arena(desc.buf).ok_or_else(missing)?;
        let et = elem_type(desc.dtype).ok_or_else(missing)?;
        let dims = dims_of(&desc);
        let name = x.shaped(&value, &dims)?;
        // An output that is a model input unchanged already has its name in the graph; an
        // `Identity` to that name would define it twice, which ONNX forbids.
        if name != desc.name {
            x.b.identity_as(&name, desc.name);
        }
        x.b.typed_output(desc.name, et, &dims);
    }
    Ok(Exported {
        model: x.b.build(),
        ops,
        integer_ops,
    })
}
