//! The teacher's soft targets: tract runs the teacher once over the data. When the teacher
//! ends with a Softmax, its input (the logits) is read instead of the probabilities.

use super::error::DistillError;
use crate::onnx::pb;
use crate::tensor::Tensor;
use std::path::Path;
use tract_onnx::prelude::{
    DatumType, Framework, InferenceFact, InferenceModelExt, IntoRunnable, TValue,
};

/// Samples per tract run when the teacher's batch axis is dynamic.
const CHUNK: usize = 256;

/// The name of the tensor holding the teacher's logits: the input of a final
/// Softmax/LogSoftmax, else the first output.
pub fn logits_name(model: &pb::ModelProto) -> Option<String> {
    let g = model.graph.as_ref()?;
    let out = g.output.first()?.name.clone();
    let producer = g.node.iter().find(|n| n.output.first() == Some(&out));
    match producer {
        Some(n) if matches!(n.op_type.as_str(), "Softmax" | "LogSoftmax") => {
            n.input.first().cloned()
        }
        _ => Some(out),
    }
}

/// The declared batch size of the first input, when fixed.
fn fixed_batch(model: &pb::ModelProto) -> Option<usize> {
    use pb::tensor_shape_proto::dimension::Value as Dim;
    let g = model.graph.as_ref()?;
    let init: Vec<&str> = g.initializer.iter().map(|i| i.name.as_str()).collect();
    let input = g.input.iter().find(|i| !init.contains(&i.name.as_str()))?;
    let Some(pb::type_proto::Value::TensorType(t)) = input.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    match t.shape.as_ref()?.dim.first()?.value {
        Some(Dim::DimValue(v)) if v > 0 => Some(v as usize),
        _ => None,
    }
}

/// Runs the teacher at `path` over `inputs` (`[N, ...]`, one model input) and returns its
/// logits, `[N, classes]` row-major, and the class count.
pub fn logits(path: &Path, inputs: &Tensor) -> Result<(Vec<f32>, usize), DistillError> {
    let err = |e: tract_onnx::prelude::TractError| DistillError::Teacher(format!("{e:#}"));
    let proto = crate::compile::load_onnx(path)?;
    let name = logits_name(&proto)
        .ok_or_else(|| DistillError::Teacher("the teacher has no graph output".into()))?;
    let n = *inputs.shape.first().unwrap_or(&0);
    if n == 0 {
        return Err(DistillError::Data("no samples".into()));
    }
    let chunk = fixed_batch(&proto).unwrap_or(CHUNK).min(n.max(1));
    let mut shape = inputs.shape.clone();
    shape[0] = chunk;
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .map_err(err)?
        .with_input_fact(0, InferenceFact::dt_shape(DatumType::F32, shape.clone()))
        .map_err(err)?
        .with_outputs_by_name([name.as_str()])
        .map_err(err)?
        .into_optimized()
        .map_err(err)?
        .into_runnable()
        .map_err(err)?;
    let per_sample: usize = inputs.shape[1..].iter().product();
    let data = inputs.to_f32();
    let mut out = Vec::new();
    let mut classes = 0;
    for start in (0..n).step_by(chunk) {
        let rows = chunk.min(n - start);
        // The last chunk is padded to the fixed batch and the padding dropped afterwards.
        let mut x = data[start * per_sample..(start + rows) * per_sample].to_vec();
        x.resize(chunk * per_sample, 0.0);
        let x = tract_onnx::prelude::Tensor::from_shape(&shape, &x).map_err(err)?;
        let y = model.run(tvec_of(x)).map_err(err)?;
        let y = y[0].cast_to::<f32>().map_err(err)?;
        let view = y.to_plain_array_view::<f32>().map_err(err)?;
        let values: Vec<f32> = view.iter().copied().collect();
        if !values.len().is_multiple_of(chunk) {
            return Err(DistillError::Teacher(format!(
                "output '{name}' of shape {:?} is not one row per sample",
                y.shape()
            )));
        }
        classes = values.len() / chunk;
        out.extend_from_slice(&values[..rows * classes]);
    }
    Ok((out, classes))
}

fn tvec_of(x: tract_onnx::prelude::Tensor) -> tract_onnx::prelude::TVec<TValue> {
    let mut v = tract_onnx::prelude::TVec::new();
    v.push(TValue::from(x));
    v
}
