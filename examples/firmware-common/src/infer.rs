//! The inference loop: every sample through the model, its class printed, the work counted.

use crate::Error;
use core::fmt::Write;
use whittle_runtime::{DType, Interpreter, Model};

/// Instructions per inference over all samples of a [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Samples run.
    pub samples: usize,
    /// Fewest instructions of one inference.
    pub min: u64,
    /// Most instructions of one inference.
    pub max: u64,
    /// All inferences together.
    pub total: u64,
}

/// Runs every sample of `samples` (raw little-endian data in the model's input type, one
/// input's bytes after another) through `model` on `arena`.
///
/// First prints where the instructions of one inference of the first sample go, layer by
/// layer (`layer <i> <op> '<output>': <n> instructions`), then `sample <i>: class <k>` (the
/// argmax of output 0) per sample, then the instructions per inference as `counter` (a
/// running instruction count) measures them around `invoke`.
pub fn run(
    model: &Model<'_>,
    samples: &[u8],
    arena: &mut [u8],
    out: &mut impl Write,
    counter: &mut impl FnMut() -> u64,
) -> Result<Summary, Error> {
    let (inputs, outputs) = (model.input_count(), model.output_count());
    if inputs != 1 || outputs == 0 {
        return Err(Error::Io { inputs, outputs });
    }
    let output = model.output(0).ok_or(Error::Io { inputs, outputs })?;
    let mut interp = Interpreter::new(model, arena)?;
    let sample_bytes = interp.input_bytes_mut(0)?.len();
    if sample_bytes == 0 || samples.is_empty() || !samples.len().is_multiple_of(sample_bytes) {
        return Err(Error::Samples {
            bytes: samples.len(),
            sample_bytes,
        });
    }
    writeln!(
        out,
        "model: target {}, {} bytes, arena {} bytes, {} sample(s)",
        model.target(),
        model.artifact_bytes(),
        model.arena_bytes(),
        samples.len() / sample_bytes
    )?;
    if let Some(first) = samples.get(..sample_bytes) {
        interp.input_bytes_mut(0)?.copy_from_slice(first);
        profile(model, &mut interp, out, counter)?;
    }
    let mut summary = Summary {
        samples: 0,
        min: u64::MAX,
        max: 0,
        total: 0,
    };
    for (i, sample) in samples.chunks_exact(sample_bytes).enumerate() {
        interp.input_bytes_mut(0)?.copy_from_slice(sample);
        let start = counter();
        interp.invoke()?;
        let spent = counter().wrapping_sub(start);
        let class = argmax(output.dtype, interp.output_bytes(0)?)?;
        writeln!(out, "sample {i}: class {class}")?;
        summary.samples += 1;
        summary.min = summary.min.min(spent);
        summary.max = summary.max.max(spent);
        summary.total = summary.total.wrapping_add(spent);
    }
    let mean = summary.total / summary.samples as u64;
    writeln!(
        out,
        "instructions per inference: {mean} (min {}, max {})",
        summary.min, summary.max
    )?;
    Ok(summary)
}

/// Runs one inference, printing each layer's instructions as it ends. The count restarts
/// after each line is printed, so printing is not counted; each layer's count includes the
/// few instructions of one counter read.
fn profile(
    model: &Model<'_>,
    interp: &mut Interpreter<'_, '_>,
    out: &mut impl Write,
    counter: &mut impl FnMut() -> u64,
) -> Result<(), Error> {
    let mut printed = Ok(());
    let mut last = counter();
    interp.invoke_observed(|index, op, _| {
        let spent = counter().wrapping_sub(last);
        let name = model
            .header()
            .tensors
            .get(op.tensor)
            .map_or("?", |t| t.name);
        if printed.is_ok() {
            printed = writeln!(
                out,
                "layer {index} {} '{name}': {spent} instructions",
                op.kind.name()
            );
        }
        last = counter();
    })?;
    Ok(printed?)
}

/// Index of the largest element of `bytes` (little-endian `dtype` elements; the first one on
/// ties). Floats are ranked by [`f32::total_cmp`], on their bits: no float instruction.
pub fn argmax(dtype: DType, bytes: &[u8]) -> Result<usize, Error> {
    let mut best = 0;
    match dtype {
        DType::F32 => {
            let mut top = f32::NEG_INFINITY;
            for (i, c) in bytes.chunks_exact(4).enumerate() {
                let v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                if i == 0 || v.total_cmp(&top).is_gt() {
                    (best, top) = (i, v);
                }
            }
        }
        DType::I8 => {
            let mut top = i8::MIN;
            for (i, &b) in bytes.iter().enumerate() {
                let v = b as i8;
                if i == 0 || v > top {
                    (best, top) = (i, v);
                }
            }
        }
        other => return Err(Error::Output(other)),
    }
    Ok(best)
}
