//! Running an artifact on the host through `whittle-runtime`: the same code the device runs.

use crate::tensor::{ElemType, Tensor, TensorData};
use whittle_runtime::DType;
use whittle_runtime::format::TensorDesc;
use whittle_runtime::{AlignedBytes, Interpreter, InvokeError, LoadError, Model};

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The artifact was rejected.
    #[error("cannot load artifact: {0}")]
    Load(#[from] LoadError),
    /// The runtime refused to run.
    #[error("inference failed: {0}")]
    Invoke(#[from] InvokeError),
    /// Input data do not fit the model.
    #[error("{0}")]
    Data(String),
}

/// A loaded artifact with an arena, ready to run many samples.
pub struct Runner {
    bytes: AlignedBytes,
    arena: Vec<u8>,
    invoke_times: Vec<std::time::Duration>,
}

impl Runner {
    /// Loads (and fully verifies) an artifact.
    pub fn new(artifact: &[u8]) -> Result<Self, RunError> {
        let bytes = AlignedBytes::new(artifact);
        let arena = vec![0u8; Model::load(&bytes)?.arena_bytes() + 16];
        Ok(Runner {
            bytes,
            arena,
            invoke_times: Vec::new(),
        })
    }

    /// How long each sample's inference took in the last [`Runner::run`] (the runtime's
    /// `invoke` alone, without data conversion).
    pub fn invoke_times(&self) -> &[std::time::Duration] {
        &self.invoke_times
    }

    /// The loaded model.
    pub fn model(&self) -> Model<'_> {
        Model::load(&self.bytes).expect("verified in Runner::new")
    }

    /// Runs `inputs` (one tensor per model input, float32) whose leading dimension counts
    /// samples, and returns the outputs stacked the same way.
    pub fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>, RunError> {
        let model = Model::load(&self.bytes)?;
        if inputs.len() != model.input_count() {
            return Err(RunError::Data(format!(
                "the model has {} input(s), {} given",
                model.input_count(),
                inputs.len()
            )));
        }
        let mut samples = None;
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        for (i, x) in inputs.iter().enumerate() {
            let desc = model
                .input(i)
                .ok_or(InvokeError::NoSuchTensor { index: i as u16 })?;
            let want: Vec<usize> = desc.shape.dims().iter().map(|&d| d as usize).collect();
            let n = sample_count(&x.shape, &want).ok_or_else(|| {
                RunError::Data(format!(
                    "input '{}' has shape {:?}; the model takes {want:?} (a leading sample dimension may be added)",
                    desc.name, x.shape
                ))
            })?;
            if *samples.get_or_insert(n) != n {
                return Err(RunError::Data(format!(
                    "inputs disagree on the number of samples ({} vs {n})",
                    samples.unwrap_or(0)
                )));
            }
            chunks.push(input_bytes(x, &desc)?);
        }
        if samples == Some(0) {
            let shapes: Vec<&[usize]> = inputs.iter().map(|x| x.shape.as_slice()).collect();
            return Err(RunError::Data(format!(
                "no samples: the input data has shape(s) {shapes:?}"
            )));
        }
        let samples = samples.unwrap_or(1);
        let out_descs: Vec<TensorDesc<'_>> = (0..model.output_count())
            .filter_map(|o| model.output(o))
            .collect();
        let mut outputs: Vec<Vec<u8>> = vec![Vec::new(); out_descs.len()];
        let mut interp = Interpreter::new(&model, &mut self.arena)?;
        self.invoke_times.clear();
        for s in 0..samples {
            for (i, bytes) in chunks.iter().enumerate() {
                let slot = interp.input_bytes_mut(i)?;
                let len = slot.len();
                slot.copy_from_slice(&bytes[s * len..(s + 1) * len]);
            }
            let start = std::time::Instant::now();
            interp.invoke()?;
            self.invoke_times.push(start.elapsed());
            for (o, out) in outputs.iter_mut().enumerate() {
                out.extend_from_slice(interp.output_bytes(o)?);
            }
        }
        Ok(outputs
            .into_iter()
            .zip(&out_descs)
            .map(|(bytes, desc)| {
                let dims: Vec<usize> = desc.shape.dims().iter().map(|&v| v as usize).collect();
                let shape = if samples == 1 {
                    dims
                } else {
                    let mut stacked = vec![samples * dims.first().copied().unwrap_or(1)];
                    stacked.extend_from_slice(dims.get(1..).unwrap_or(&[]));
                    stacked
                };
                tensor_of(desc.dtype, shape, &bytes)
            })
            .collect())
    }
}

/// One operator's output from [`Runner::run_layers`].
#[derive(Debug, Clone)]
pub struct Layer {
    /// Execution index.
    pub index: usize,
    /// Name of the output tensor.
    pub name: String,
    /// Operator name.
    pub op: &'static str,
    /// The output, in its stored element type and physical layout (e.g. NHWC).
    pub tensor: Tensor,
    /// Quantization of an int8 output.
    pub quant: Option<whittle_runtime::format::TensorQuant>,
}

impl Layer {
    /// The output as real values (int8 dequantized).
    pub fn real(&self) -> Vec<f32> {
        match self.quant {
            Some(q) => self
                .tensor
                .to_i64()
                .iter()
                .map(|&v| (v as i32 - q.zero_point) as f32 * q.scale)
                .collect(),
            None => self.tensor.to_f32(),
        }
    }
}

impl Runner {
    /// Runs the first sample of `inputs` and returns every operator's output in execution
    /// order.
    pub fn run_layers(&mut self, inputs: &[Tensor]) -> Result<Vec<Layer>, RunError> {
        let model = Model::load(&self.bytes)?;
        let tensors: Vec<TensorDesc<'_>> = model.tensors().collect();
        let mut chunks = Vec::new();
        for (i, x) in inputs.iter().enumerate() {
            let desc = model
                .input(i)
                .ok_or(InvokeError::NoSuchTensor { index: i as u16 })?;
            chunks.push(input_bytes(x, &desc)?);
        }
        let mut interp = Interpreter::new(&model, &mut self.arena)?;
        for (i, bytes) in chunks.iter().enumerate() {
            let slot = interp.input_bytes_mut(i)?;
            let len = slot.len();
            slot.copy_from_slice(
                bytes
                    .get(..len)
                    .ok_or_else(|| RunError::Data("input too short".into()))?,
            );
        }
        let mut layers = Vec::new();
        interp.invoke_observed(|index, op, bytes| {
            let Some(desc) = tensors.get(op.tensor as usize) else {
                return;
            };
            let shape: Vec<usize> = desc.shape.dims().iter().map(|&d| d as usize).collect();
            let tensor = tensor_of(desc.dtype, shape, bytes);
            layers.push(Layer {
                index,
                name: desc.name.to_string(),
                op: op.kind.name(),
                tensor,
                quant: desc.quant,
            });
        })?;
        Ok(layers)
    }
}

/// A host tensor of the given runtime element type from little-endian bytes.
fn tensor_of(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Tensor {
    match dtype {
        DType::I8 => Tensor::int(
            ElemType::I8,
            shape,
            bytes.iter().map(|&b| i64::from(b as i8)).collect(),
        ),
        DType::I32 => Tensor::int(
            ElemType::I32,
            shape,
            bytes
                .chunks_exact(4)
                .map(|w| i64::from(i32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect(),
        ),
        _ => Tensor::f32(
            shape,
            bytes
                .chunks_exact(4)
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect(),
        ),
    }
}

/// The bytes of `x` in the element type of model input `desc`: float data for a float input;
/// int8 data, or float data quantized with the input's parameters, for an int8 input.
/// `x` as the bytes model input `desc` takes: float32 as is, int8 as is (checked), float data
/// for an int8 input quantized with the input's scale and zero point.
pub fn input_bytes(x: &Tensor, desc: &TensorDesc<'_>) -> Result<Vec<u8>, RunError> {
    match (desc.dtype, &x.data) {
        (DType::F32, TensorData::Float(v)) => Ok(v.iter().flat_map(|f| f.to_le_bytes()).collect()),
        (DType::F32, TensorData::Int(_)) => Err(RunError::Data(format!(
            "input '{}' holds {} data; the model takes float32 (convert it with --input-scale and --input-zero-point)",
            desc.name, x.dtype
        ))),
        (DType::I8, TensorData::Int(v)) => match v.iter().find(|q| !(-128..=127).contains(*q)) {
            Some(bad) => Err(RunError::Data(format!(
                "input '{}' holds {bad}, outside int8",
                desc.name
            ))),
            None => Ok(v.iter().map(|&q| q as i8 as u8).collect()),
        },
        (DType::I8, TensorData::Float(v)) => {
            let q = desc.quant.ok_or_else(|| {
                RunError::Data(format!("int8 input '{}' has no scale", desc.name))
            })?;
            Ok(v.iter()
                .map(|&f| {
                    ((f / q.scale).round_ties_even() as i64 + i64::from(q.zero_point))
                        .clamp(-128, 127) as i8 as u8
                })
                .collect())
        }
        (other, _) => Err(RunError::Data(format!(
            "input '{}' is {other:?}, which whittle run does not feed",
            desc.name
        ))),
    }
}

/// Samples in `data` for a model input of shape `want`: the exact shape is one sample; a
/// leading dimension that is a multiple of `want[0]` stacks several; with a batch of 1 the
/// batch dimension may be left out.
fn sample_count(data: &[usize], want: &[usize]) -> Option<usize> {
    if data == want {
        return Some(1);
    }
    if !want.is_empty()
        && data.len() == want.len()
        && data[1..] == want[1..]
        && want[0] > 0
        && data[0].is_multiple_of(want[0])
    {
        return Some(data[0] / want[0]);
    }
    if want.first() == Some(&1) && data == &want[1..] {
        return Some(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::sample_count;

    #[test]
    fn leading_dimension_counts_samples() {
        assert_eq!(sample_count(&[1, 49, 10, 1], &[1, 49, 10, 1]), Some(1));
        assert_eq!(sample_count(&[250, 49, 10, 1], &[1, 49, 10, 1]), Some(250));
        assert_eq!(sample_count(&[49, 10, 1], &[1, 49, 10, 1]), Some(1));
        assert_eq!(sample_count(&[8, 3], &[4, 3]), Some(2));
        assert_eq!(sample_count(&[7, 3], &[4, 3]), None);
        assert_eq!(sample_count(&[1, 10, 49, 1], &[1, 49, 10, 1]), None);
    }
}
