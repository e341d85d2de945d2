//! Writing the `.wtl` artifact: relocation of buffers, postcard header, aligned weight blob,
//! SHA-256 and CRC-32 trailer. The same program and plan always give the same bytes.

use crate::lower::{Loc, Program, loc_of};
use crate::plan::MemoryPlan;
use serde::Serialize;
use whittle_runtime::format::{
    Buf, CRC_LEN, DIGEST_LEN, FLAG_SHA256, FORMAT_VERSION, Header, IoDesc, OpDesc, PREAMBLE_LEN,
    Preamble, Section, Shape, TensorDesc, Validation, WEIGHT_ALIGN,
};

/// Identifies the writer in every artifact.
pub const PRODUCER: &str = concat!("whittle ", env!("CARGO_PKG_VERSION"));

fn encode_all<T: Serialize>(items: &[T]) -> Result<Vec<u8>, postcard::Error> {
    let mut out = Vec::new();
    for item in items {
        out = postcard::to_extend(item, out)?;
    }
    Ok(out)
}

/// Validation vectors to embed: raw input and expected output bytes of every vector, and the
/// CRC-32 of every operator's output for the first vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationData {
    /// Number of vectors.
    pub vectors: u32,
    /// Per vector, each model input's bytes in order.
    pub inputs: Vec<u8>,
    /// Per vector, each model output's bytes in order.
    pub outputs: Vec<u8>,
    /// One CRC-32 per operator.
    pub layer_checksums: Vec<u32>,
}

/// Serializes `program` placed by `plan` for `target`.
pub fn write(program: &Program, plan: &MemoryPlan, target: &str) -> Result<Vec<u8>, String> {
    write_with_validation(program, plan, target, None)
}

/// Appends `bytes` to the blob at the next aligned offset; returns its buffer.
fn append(blob: &mut Vec<u8>, bytes: &[u8]) -> Buf {
    blob.resize(blob.len().next_multiple_of(WEIGHT_ALIGN), 0);
    let buf = Buf::weights(blob.len() as u32, bytes.len() as u32);
    blob.extend_from_slice(bytes);
    buf
}

/// Like [`write`], with validation vectors in the weight blob after the weights.
pub fn write_with_validation(
    program: &Program,
    plan: &MemoryPlan,
    target: &str,
    validation: Option<&ValidationData>,
) -> Result<Vec<u8>, String> {
    let crate::pack::Packed { weights, kinds } = crate::pack::packed(program)?;
    let mut blob = Vec::new();
    let mut weight_offsets = Vec::with_capacity(weights.len());
    for w in &weights {
        weight_offsets.push(append(&mut blob, w).offset as usize);
    }
    let validation = validation.map(|v| {
        let checksums: Vec<u8> = v
            .layer_checksums
            .iter()
            .flat_map(|c| c.to_le_bytes())
            .collect();
        Validation {
            vectors: v.vectors,
            inputs: append(&mut blob, &v.inputs),
            outputs: append(&mut blob, &v.outputs),
            layer_checksums: append(&mut blob, &checksums),
        }
    });
    let relocate = |buf: &mut Buf| {
        buf.offset = match loc_of(buf) {
            Loc::Arena(b) => plan.offsets[b] as u32,
            Loc::Weight(w) => weight_offsets[w] as u32,
        };
    };
    let place = |loc: Loc, bytes: usize| {
        let mut buf = crate::lower::placeholder(loc, bytes);
        relocate(&mut buf);
        buf
    };

    let names: Vec<String> = program.tensors.iter().map(|t| t.name.clone()).collect();
    let mut tensors = Vec::with_capacity(program.tensors.len());
    for (t, name) in program.tensors.iter().zip(&names) {
        let dims: Vec<u32> = t.shape.iter().map(|&d| d as u32).collect();
        let shape = Shape::new(&dims)
            .ok_or_else(|| format!("tensor '{name}' has rank above the runtime's limit"))?;
        let bytes = t.shape.iter().product::<usize>() * t.dtype.size();
        tensors.push(TensorDesc {
            name,
            dtype: t.dtype,
            shape,
            buf: place(t.loc, bytes),
            quant: t.quant,
        });
    }
    let io = |list: &[usize]| {
        list.iter()
            .map(|&t| IoDesc { tensor: t as u32 })
            .collect::<Vec<_>>()
    };
    let ops: Vec<OpDesc> = program
        .ops
        .iter()
        .zip(kinds)
        .map(|(op, mut kind)| {
            kind.buffers_mut().for_each(relocate);
            OpDesc {
                tensor: op.tensor as u32,
                kind,
            }
        })
        .collect();

    let err = |e: postcard::Error| format!("encoding the header: {e}");
    let tensor_bytes = encode_all(&tensors).map_err(err)?;
    let input_bytes = encode_all(&io(&program.inputs)).map_err(err)?;
    let output_bytes = encode_all(&io(&program.outputs)).map_err(err)?;
    let op_bytes = encode_all(&ops).map_err(err)?;
    let header = Header {
        producer: PRODUCER,
        target,
        layout: program.layout as u8,
        arena_bytes: plan.arena_bytes as u32,
        arena_lower_bound_bytes: plan.lower_bound_bytes as u32,
        tensors: Section::from_encoded(tensors.len() as u32, &tensor_bytes),
        inputs: Section::from_encoded(program.inputs.len() as u32, &input_bytes),
        outputs: Section::from_encoded(program.outputs.len() as u32, &output_bytes),
        ops: Section::from_encoded(ops.len() as u32, &op_bytes),
        validation,
    };
    let header_bytes = postcard::to_allocvec(&header).map_err(err)?;

    let weights_offset = (PREAMBLE_LEN + header_bytes.len()).next_multiple_of(WEIGHT_ALIGN);
    let total = weights_offset + blob.len() + DIGEST_LEN + CRC_LEN;
    let too_big = |_| format!("artifact of {total} bytes exceeds the 4 GiB format limit");
    let preamble = Preamble {
        format_version: FORMAT_VERSION,
        flags: FLAG_SHA256,
        header_len: u32::try_from(header_bytes.len()).map_err(too_big)?,
        weights_offset: u32::try_from(weights_offset).map_err(too_big)?,
        weights_len: u32::try_from(blob.len()).map_err(too_big)?,
        total_len: u32::try_from(total).map_err(too_big)?,
    };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&preamble.to_bytes());
    out.extend_from_slice(&header_bytes);
    out.resize(weights_offset, 0);
    out.extend_from_slice(&blob);
    out.extend_from_slice(&[0; DIGEST_LEN + CRC_LEN]);
    reseal(&mut out);
    Ok(out)
}

/// Rewrites the integrity trailer of an artifact (its SHA-256 digest, when the preamble has
/// one, and its CRC-32) to match its contents, after a tool changed bytes in place.
/// Does nothing to bytes too short to hold the trailer.
pub fn reseal(artifact: &mut [u8]) {
    let has_digest = Preamble::parse(artifact).is_ok_and(|p| p.flags & FLAG_SHA256 != 0);
    let trailer = CRC_LEN + if has_digest { DIGEST_LEN } else { 0 };
    let Some(sealed_end) = artifact.len().checked_sub(CRC_LEN) else {
        return;
    };
    let Some(body_end) = artifact.len().checked_sub(trailer) else {
        return;
    };
    if has_digest {
        let digest = whittle_runtime::sha256(&artifact[..body_end]);
        artifact[body_end..sealed_end].copy_from_slice(&digest);
    }
    let crc = whittle_runtime::crc32(&artifact[..sealed_end]);
    artifact[sealed_end..].copy_from_slice(&crc.to_le_bytes());
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, then a rename,
/// so a failure never leaves a partial file behind. The file gets the permissions of any file
/// the user creates (0666 less the umask), not the owner-only mode of temporary files.
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".whittle-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| {
        // tempfile's message names the random file it could not make; name the directory.
        let cause = e
            .get_ref()
            .and_then(std::error::Error::source)
            .map_or_else(|| e.to_string(), ToString::to_string);
        std::io::Error::new(e.kind(), format!("{cause} (directory {})", dir.display()))
    })?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
