//! Classifying samples with a verified artifact: reading it into aligned memory, converting
//! inputs to the model's input type, running the interpreter and taking the arg-max.

use crate::input::Batch;
use crate::npy::Data;
use std::path::Path;
use std::time::{Duration, Instant};
use whittle_runtime::format::TensorDesc;
use whittle_runtime::{AlignedBytes, DType, Interpreter, Model};

/// An artifact file's bytes, 16-byte aligned so the weights can be read in place.
pub struct Artifact {
    path: String,
    bytes: AlignedBytes,
}

impl Artifact {
    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Artifact {
            path: path.display().to_string(),
            bytes: AlignedBytes::new(&bytes),
        })
    }

    /// The file name, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Verifies the artifact (magic, version, CRC, every tensor and operator) and returns the
    /// model; errors name the file.
    pub fn load(&self) -> Result<Model<'_>, String> {
        Model::load(&self.bytes).map_err(|e| format!("{}: {e}", self.path))
    }
}

/// The class with the highest score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    /// Index of the class in the model's output.
    pub class: usize,
    /// Its score (dequantized for an int8 output).
    pub score: f32,
}

/// A single-input model bound to an arena.
pub struct Classifier<'r, 'a> {
    interp: Interpreter<'r, 'a>,
    input: TensorDesc<'a>,
    output: TensorDesc<'a>,
}

impl<'r, 'a> Classifier<'r, 'a> {
    /// Binds `model` to `arena` (at least `model.arena_bytes() + 16` bytes). The model must
    /// have one float32 or int8 input; its first output (float32 or int8) holds the scores.
    pub fn new(model: &'r Model<'a>, arena: &'r mut [u8]) -> Result<Self, String> {
        if model.input_count() != 1 {
            return Err(format!(
                "the model has {} inputs; the gateway feeds single-input models",
                model.input_count()
            ));
        }
        let (Some(input), Some(output)) = (model.input(0), model.output(0)) else {
            return Err("the model has no output".into());
        };
        for (role, desc) in [("input", &input), ("output", &output)] {
            if !matches!(desc.dtype, DType::F32 | DType::I8) {
                return Err(format!(
                    "{role} '{}' is {}; the gateway handles f32 and i8",
                    desc.name,
                    dtype_name(desc.dtype)
                ));
            }
        }
        for (role, desc) in [("input", &input), ("output", &output)] {
            if desc.buf.bytes == 0 {
                return Err(format!("{role} '{}' is empty", desc.name));
            }
        }
        let interp = Interpreter::new(model, arena).map_err(|e| e.to_string())?;
        Ok(Classifier {
            interp,
            input,
            output,
        })
    }

    /// The model input.
    pub fn input(&self) -> &TensorDesc<'a> {
        &self.input
    }

    /// The model output holding the scores.
    pub fn output(&self) -> &TensorDesc<'a> {
        &self.output
    }

    /// Elements of one sample.
    pub fn sample_len(&self) -> usize {
        self.input.buf.bytes as usize / self.input.dtype.size()
    }

    /// Bytes of one sample.
    pub fn sample_bytes(&self) -> usize {
        self.input.buf.bytes as usize
    }

    /// Number of classes (elements of the output).
    pub fn classes(&self) -> usize {
        self.output.buf.bytes as usize / self.output.dtype.size()
    }

    /// The samples of `batch` as input bytes, one [`Classifier::sample_bytes`] chunk each:
    /// float data for a float input; int8 data as is, or float data quantized with the
    /// input's scale and zero point, for an int8 input.
    pub fn encode(&self, batch: &Batch) -> Result<Vec<u8>, String> {
        batch.samples(self.sample_len())?;
        match (self.input.dtype, &batch.data) {
            (DType::F32, Data::F32(values)) => {
                Ok(values.iter().flat_map(|v| v.to_le_bytes()).collect())
            }
            (DType::I8, Data::I8(values)) => Ok(values.iter().map(|&q| q as u8).collect()),
            (DType::I8, Data::F32(values)) => {
                let q = self
                    .input
                    .quant
                    .ok_or_else(|| format!("int8 input '{}' has no scale", self.input.name))?;
                Ok(values
                    .iter()
                    .map(|&v| quantize(v, q.scale, q.zero_point) as u8)
                    .collect())
            }
            (dtype, data) => Err(format!(
                "{}: {} data, but input '{}' takes {}",
                batch.source,
                data.dtype_name(),
                self.input.name,
                dtype_name(dtype)
            )),
        }
    }

    /// Runs one sample (`sample_bytes()` bytes from [`Classifier::encode`]) and returns the
    /// top class and the time the inference took.
    pub fn classify(&mut self, sample: &[u8]) -> Result<(Prediction, Duration), String> {
        let slot = self.interp.input_bytes_mut(0).map_err(|e| e.to_string())?;
        if slot.len() != sample.len() {
            return Err(format!(
                "a sample has {} bytes, the input takes {}",
                sample.len(),
                slot.len()
            ));
        }
        slot.copy_from_slice(sample);
        let start = Instant::now();
        self.interp.invoke().map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        let bytes = self.interp.output_bytes(0).map_err(|e| e.to_string())?;
        let prediction = match (self.output.dtype, self.output.quant) {
            (DType::I8, quant) => argmax(bytes.iter().map(|&b| {
                let q = i32::from(b as i8);
                match quant {
                    Some(p) => (q - p.zero_point) as f32 * p.scale,
                    None => q as f32,
                }
            })),
            _ => argmax(
                bytes
                    .chunks_exact(4)
                    .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            ),
        };
        let prediction =
            prediction.ok_or_else(|| format!("output '{}' is empty", self.output.name))?;
        Ok((prediction, elapsed))
    }
}

/// `clamp(round(v / scale) + zero_point, -128, 127)`, rounding half to even as `whittle run`
/// and the runtime's Quantize operator do; NaN becomes the zero point.
fn quantize(v: f32, scale: f32, zero_point: i32) -> i8 {
    ((v / scale).round_ties_even() as i64 + i64::from(zero_point)).clamp(-128, 127) as i8
}

/// Index and value of the largest score (the first one on ties; NaN never wins).
fn argmax(scores: impl Iterator<Item = f32>) -> Option<Prediction> {
    let mut best: Option<Prediction> = None;
    for (class, score) in scores.enumerate() {
        if best.is_none_or(|b| score > b.score || (b.score.is_nan() && !score.is_nan())) {
            best = Some(Prediction { class, score });
        }
    }
    best
}

/// Short name of an element type.
pub fn dtype_name(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "f32",
        DType::I8 => "i8",
        DType::I16 => "i16",
        DType::I32 => "i32",
        _ => "an unknown type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizes_as_whittle_run_does() {
        assert_eq!(quantize(0.5, 1.0, 0), 0);
        assert_eq!(quantize(1.5, 1.0, 0), 2);
        assert_eq!(quantize(-2.5, 1.0, 3), 1);
        assert_eq!(quantize(1000.0, 0.1, 0), 127);
        assert_eq!(quantize(-1000.0, 0.1, 0), -128);
        assert_eq!(quantize(f32::NAN, 0.1, -7), -7);
    }

    #[test]
    fn argmax_takes_the_first_largest() {
        let top = |v: &[f32]| argmax(v.iter().copied()).map(|p| (p.class, p.score));
        assert_eq!(top(&[0.1, 0.7, 0.7, 0.2]), Some((1, 0.7)));
        assert_eq!(top(&[f32::NAN, 0.3, 0.1]), Some((1, 0.3)));
        assert_eq!(top(&[]), None);
    }
}
