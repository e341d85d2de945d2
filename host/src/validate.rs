//! Validation vectors for the on-device self-test: the first samples of the user's data, the
//! outputs the runtime computes for them on the host (bit-exact with every device), and a
//! checksum of every operator's output for the first one, embedded in the artifact.

use crate::artifact::{ValidationData, write_with_validation};
use crate::compile::Compiled;
use crate::error::CompileError;
use crate::run::input_bytes;
use crate::tensor::Tensor;
use whittle_runtime::{AlignedBytes, Interpreter, Model, crc32};

fn options(e: impl std::fmt::Display) -> CompileError {
    CompileError::Options(format!("validation vectors: {e}"))
}

/// Runs the first `vectors` samples of `inputs` (one tensor per model input, leading dimension
/// = samples) through `artifact` and records inputs, outputs and per-operator checksums.
pub fn vectors(
    artifact: &[u8],
    inputs: &[Tensor],
    vectors: usize,
) -> Result<ValidationData, CompileError> {
    let bytes = AlignedBytes::new(artifact);
    let model = Model::load(&bytes).map_err(options)?;
    if inputs.len() != model.input_count() {
        return Err(options(format!(
            "{} data array(s) for {} model input(s)",
            inputs.len(),
            model.input_count()
        )));
    }
    let mut per_input = Vec::new();
    let mut available = usize::MAX;
    for (index, x) in inputs.iter().enumerate() {
        let desc = model.input(index).ok_or_else(|| options("no such input"))?;
        let data = input_bytes(x, &desc).map_err(options)?;
        let sample = desc.buf.bytes as usize;
        if sample == 0 || data.len() % sample != 0 {
            return Err(options(format!(
                "input '{}' takes {sample} bytes per sample; the data has {}",
                desc.name,
                data.len()
            )));
        }
        available = available.min(data.len() / sample);
        per_input.push((data, sample));
    }
    if vectors == 0 || available < vectors {
        return Err(options(format!(
            "{vectors} vector(s) asked for, the data has {available} sample(s)"
        )));
    }
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut interp = Interpreter::new(&model, &mut arena).map_err(options)?;
    let mut out = ValidationData {
        vectors: vectors as u32,
        inputs: Vec::new(),
        outputs: Vec::new(),
        layer_checksums: Vec::new(),
    };
    for v in 0..vectors {
        for (index, (data, sample)) in per_input.iter().enumerate() {
            let chunk = &data[v * sample..(v + 1) * sample];
            interp
                .input_bytes_mut(index)
                .map_err(options)?
                .copy_from_slice(chunk);
            out.inputs.extend_from_slice(chunk);
        }
        let checksums = &mut out.layer_checksums;
        interp
            .invoke_observed(|_, _, bytes| {
                if v == 0 {
                    checksums.push(crc32(bytes));
                }
            })
            .map_err(options)?;
        for index in 0..model.output_count() {
            out.outputs
                .extend_from_slice(interp.output_bytes(index).map_err(options)?);
        }
    }
    Ok(out)
}

/// `compiled`'s artifact with `vectors` validation vectors from `inputs` embedded.
pub fn embed(
    compiled: &Compiled,
    target: &str,
    inputs: &[Tensor],
    count: usize,
) -> Result<Vec<u8>, CompileError> {
    let data = vectors(&compiled.artifact, inputs, count)?;
    write_with_validation(&compiled.program, &compiled.plan, target, Some(&data))
        .map_err(CompileError::Options)
}
