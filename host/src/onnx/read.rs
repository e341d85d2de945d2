//! Decoding ONNX files and `TensorProto`s into host tensors, never panicking on bad bytes.

use super::pb;
use crate::tensor::{ElemType, Tensor, TensorData};
use prost::Message;
use std::path::Path;

/// Largest constant we accept, in elements: a hostile file cannot make us allocate more.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 30;

/// Decodes an ONNX model from bytes; a model without a graph (what an empty file or one cut
/// after its header decodes to) is an error too.
pub fn model_from_bytes(bytes: &[u8]) -> Result<pb::ModelProto, String> {
    let len = bytes.len();
    let model = pb::ModelProto::decode(bytes).map_err(|e| {
        format!("not a valid ONNX protobuf ({len} bytes; truncated or not an ONNX model): {e}")
    })?;
    if model.graph.is_none() {
        return Err(format!(
            "{len} bytes hold no ONNX graph (empty, truncated or not an ONNX model)"
        ));
    }
    Ok(model)
}

/// Decodes a serialized `TensorProto` (as in ONNX test data `.pb` files).
pub fn tensor_proto_from_bytes(bytes: &[u8]) -> Result<pb::TensorProto, String> {
    pb::TensorProto::decode(bytes).map_err(|e| format!("not a valid ONNX TensorProto: {e}"))
}

/// Number of elements of `dims`, rejecting negative or overflowing dimensions.
fn element_count(dims: &[i64]) -> Result<(Vec<usize>, usize), String> {
    let shape = dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<Vec<_>, _>>()?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        .ok_or_else(|| {
            format!("tensor of shape {shape:?} is too large (over {MAX_TENSOR_ELEMENTS} elements)")
        })?;
    Ok((shape, count))
}

/// Converts a `TensorProto` (inline, raw or external data) to a host tensor.
/// `model_dir` resolves external data files.
pub fn tensor_from_proto(t: &pb::TensorProto, model_dir: Option<&Path>) -> Result<Tensor, String> {
    let dtype = ElemType::from_onnx(t.data_type);
    let (shape, count) = element_count(&t.dims)?;
    let external;
    let raw: Option<&[u8]> =
        if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
            external = read_external(t, model_dir)?;
            Some(&external)
        } else if !t.raw_data.is_empty() {
            Some(&t.raw_data)
        } else {
            None
        };
    let data = match raw {
        Some(bytes) => decode_raw(dtype, bytes, count)?,
        None => decode_typed(dtype, t, count)?,
    };
    let tensor = Tensor { dtype, shape, data };
    if tensor.len() != count {
        return Err(format!(
            "tensor '{}' has {} elements but its shape {:?} needs {count}",
            t.name,
            tensor.len(),
            tensor.shape
        ));
    }
    Ok(tensor)
}

fn read_external(t: &pb::TensorProto, model_dir: Option<&Path>) -> Result<Vec<u8>, String> {
    let entry = |key: &str| {
        t.external_data
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    };
    let location = entry("location").ok_or("external data without a location")?;
    let dir = model_dir.ok_or("external data needs the model's directory")?;
    let relative = Path::new(location);
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "external data location '{location}' leaves the model directory"
        ));
    }
    let bytes = std::fs::read(dir.join(relative))
        .map_err(|e| format!("external data '{location}': {e}"))?;
    let parse = |key| {
        entry(key)
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|_| format!("bad external data {key} '{v}'"))
            })
            .transpose()
    };
    let offset = parse("offset")?.unwrap_or(0);
    let length = parse("length")?.unwrap_or(bytes.len().saturating_sub(offset));
    let end = offset
        .checked_add(length)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| format!("external data '{location}' is shorter than stated"))?;
    Ok(bytes[offset..end].to_vec())
}

fn decode_raw(dtype: ElemType, bytes: &[u8], count: usize) -> Result<TensorData, String> {
    let width = match dtype {
        ElemType::F32 | ElemType::I32 | ElemType::U32 => 4,
        ElemType::F16 | ElemType::BF16 | ElemType::I16 | ElemType::U16 => 2,
        ElemType::F64 | ElemType::I64 | ElemType::U64 => 8,
        ElemType::I8 | ElemType::U8 | ElemType::Bool => 1,
        ElemType::Other(_) => {
            return Err(format!("unsupported tensor element type {dtype}"));
        }
    };
    if bytes.len() != count * width {
        return Err(format!(
            "raw data has {} bytes, expected {} ({count} x {width})",
            bytes.len(),
            count * width
        ));
    }
    let words = bytes.chunks_exact(width);
    Ok(match dtype {
        ElemType::F32 => TensorData::Float(
            words
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect(),
        ),
        ElemType::F16 => TensorData::Float(
            words
                .map(|w| half::f16::from_le_bytes([w[0], w[1]]).to_f32())
                .collect(),
        ),
        ElemType::BF16 => TensorData::Float(
            words
                .map(|w| half::bf16::from_le_bytes([w[0], w[1]]).to_f32())
                .collect(),
        ),
        ElemType::F64 => TensorData::Float(
            words
                .map(|w| f64::from_le_bytes(w.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        ),
        ElemType::I8 => TensorData::Int(words.map(|w| i64::from(w[0] as i8)).collect()),
        ElemType::U8 => TensorData::Int(words.map(|w| i64::from(w[0])).collect()),
        ElemType::Bool => TensorData::Int(words.map(|w| i64::from(w[0] != 0)).collect()),
        ElemType::I16 => TensorData::Int(
            words
                .map(|w| i64::from(i16::from_le_bytes([w[0], w[1]])))
                .collect(),
        ),
        ElemType::U16 => TensorData::Int(
            words
                .map(|w| i64::from(u16::from_le_bytes([w[0], w[1]])))
                .collect(),
        ),
        ElemType::I32 => TensorData::Int(
            words
                .map(|w| i64::from(i32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect(),
        ),
        ElemType::U32 => TensorData::Int(
            words
                .map(|w| i64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect(),
        ),
        ElemType::I64 => TensorData::Int(
            words
                .map(|w| i64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        ElemType::U64 => TensorData::Int(
            words
                .map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])) as i64)
                .collect(),
        ),
        ElemType::Other(_) => unreachable!("rejected above"),
    })
}

fn decode_typed(dtype: ElemType, t: &pb::TensorProto, count: usize) -> Result<TensorData, String> {
    let data = match dtype {
        ElemType::F32 => TensorData::Float(t.float_data.clone()),
        ElemType::F64 => TensorData::Float(t.double_data.iter().map(|&x| x as f32).collect()),
        ElemType::F16 => TensorData::Float(
            t.int32_data
                .iter()
                .map(|&x| half::f16::from_bits(x as u16).to_f32())
                .collect(),
        ),
        ElemType::BF16 => TensorData::Float(
            t.int32_data
                .iter()
                .map(|&x| half::bf16::from_bits(x as u16).to_f32())
                .collect(),
        ),
        ElemType::I8
        | ElemType::U8
        | ElemType::I16
        | ElemType::U16
        | ElemType::I32
        | ElemType::Bool => TensorData::Int(t.int32_data.iter().map(|&x| i64::from(x)).collect()),
        ElemType::I64 => TensorData::Int(t.int64_data.clone()),
        ElemType::U32 | ElemType::U64 => {
            TensorData::Int(t.uint64_data.iter().map(|&x| x as i64).collect())
        }
        ElemType::Other(_) => {
            return Err(format!("unsupported tensor element type {dtype}"));
        }
    };
    let len = match &data {
        TensorData::Float(v) => v.len(),
        TensorData::Int(v) => v.len(),
    };
    if len != count {
        return Err(format!(
            "tensor has {len} elements, its shape needs {count}"
        ));
    }
    Ok(data)
}

/// Reads and decodes an ONNX model file.
pub fn model_from_path(path: &Path) -> Result<pb::ModelProto, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    model_from_bytes(&bytes)
}
