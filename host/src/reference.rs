//! The float reference: tract runs the source ONNX model on the same inputs.

use crate::tensor::Tensor;
use std::path::Path;
use tract_onnx::prelude::{Framework, InferenceModelExt, IntoRunnable, TValue};

/// Runs the ONNX model at `path` on `inputs` (float32, full shapes) with tract and returns its
/// outputs as float32 tensors.
pub fn run_tract(path: &Path, inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
    let err = |e: tract_onnx::prelude::TractError| format!("tract: {e:#}");
    let mut model = tract_onnx::onnx().model_for_path(path).map_err(err)?;
    for (i, t) in inputs.iter().enumerate() {
        let fact = tract_onnx::prelude::InferenceFact::dt_shape(
            tract_onnx::prelude::DatumType::F32,
            t.shape.clone(),
        );
        model = model.with_input_fact(i, fact).map_err(err)?;
    }
    let runnable = model
        .into_optimized()
        .map_err(err)?
        .into_runnable()
        .map_err(err)?;
    let values: Vec<TValue> = inputs
        .iter()
        .map(|t| tract_onnx::prelude::Tensor::from_shape(&t.shape, &t.to_f32()).map(TValue::from))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let outputs = runnable.run(values.into_iter().collect()).map_err(err)?;
    outputs
        .iter()
        .map(|o| {
            let o = o.cast_to::<f32>().map_err(err)?;
            let view = o.to_plain_array_view::<f32>().map_err(err)?;
            Ok(Tensor::f32(
                o.shape().to_vec(),
                view.iter().copied().collect(),
            ))
        })
        .collect()
}
