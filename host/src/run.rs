//! Running an artifact on the host through `whittle-runtime`: the same code the device runs.

use crate::tensor::{Tensor, TensorData};
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
}

impl Runner {
    /// Loads (and fully verifies) an artifact.
    pub fn new(artifact: &[u8]) -> Result<Self, RunError> {
        let bytes = AlignedBytes::new(artifact);
        let arena = vec![0u8; Model::load(&bytes)?.arena_bytes() + 16];
        Ok(Runner { bytes, arena })
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
        let mut chunks = Vec::new();
        for (i, x) in inputs.iter().enumerate() {
            let desc = model
                .input(i)
                .ok_or(InvokeError::NoSuchTensor { index: i as u16 })?;
            let want: Vec<usize> = desc.shape.dims().iter().map(|&d| d as usize).collect();
            let TensorData::Float(data) = &x.data else {
                return Err(RunError::Data(format!(
                    "input '{}' holds {} data; the model takes float32",
                    desc.name, x.dtype
                )));
            };
            let n = sample_count(&x.shape, &want).ok_or_else(|| {
                RunError::Data(format!("input '{}' has shape {:?}; the model takes {want:?} (a leading sample dimension may be added)", desc.name, x.shape))
            })?;
            if *samples.get_or_insert(n) != n {
                return Err(RunError::Data(format!(
                    "inputs disagree on the number of samples ({} vs {n})",
                    samples.unwrap_or(0)
                )));
            }
            chunks.push((data, want.iter().product::<usize>()));
        }
        let samples = samples.unwrap_or(1);
        let mut outputs: Vec<(Vec<usize>, Vec<f32>)> = (0..model.output_count())
            .map(|o| {
                let dims: Vec<usize> = model
                    .output(o)
                    .map(|d| d.shape.dims().iter().map(|&v| v as usize).collect())
                    .unwrap_or_default();
                (dims, Vec::new())
            })
            .collect();
        let mut interp = Interpreter::new(&model, &mut self.arena)?;
        for s in 0..samples {
            for (i, (data, len)) in chunks.iter().enumerate() {
                interp.set_input::<f32>(i, &data[s * len..(s + 1) * len])?;
            }
            interp.invoke()?;
            for (o, (_, out)) in outputs.iter_mut().enumerate() {
                out.extend_from_slice(interp.output::<f32>(o)?);
            }
        }
        Ok(outputs
            .into_iter()
            .map(|(dims, data)| {
                let shape = if samples == 1 {
                    dims
                } else {
                    let mut stacked = vec![samples * dims.first().copied().unwrap_or(1)];
                    stacked.extend_from_slice(dims.get(1..).unwrap_or(&[]));
                    stacked
                };
                Tensor::f32(shape, data)
            })
            .collect())
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
