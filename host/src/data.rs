//! NumPy `.npy` / `.npz` files: reading (any common dtype, int8 included), writing float32
//! results. Sizes come from the file header and are checked against the bytes present before
//! anything is allocated.

use crate::tensor::{ElemType, Tensor, TensorData};
use std::io::{Read, Write};
use std::path::Path;

/// Why a data file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// Reading or writing the file failed.
    #[error("{path}: {cause}")]
    Io {
        /// File.
        path: String,
        /// Cause (in the message, and so not also a `source()` that would repeat it).
        cause: std::io::Error,
    },
    /// The file is not valid NumPy data.
    #[error("{path}: {reason}")]
    Format {
        /// File (and array name inside an `.npz`).
        path: String,
        /// What is wrong.
        reason: String,
    },
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// Most a deflate stream expands (the limit of the format), the bound on an `.npz` entry's
/// uncompressed size given its compressed size.
const MAX_DEFLATE_RATIO: u64 = 1032;

fn format_err(path: &str, reason: impl Into<String>) -> DataError {
    DataError::Format {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Parses one `.npy` image.
pub fn parse_npy(bytes: &[u8], path: &str) -> Result<Tensor, DataError> {
    let err = |r: String| format_err(path, r);
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err("not a .npy file (bad magic)".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(err(format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or_else(|| err("truncated header".into()))?;
    let header = std::str::from_utf8(header).map_err(|_| err("header is not text".into()))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| err("no descr".into()))?;
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err(err("Fortran-ordered arrays are not supported".into()));
    }
    let shape_text = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| err("no shape".into()))?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| err(format!("bad dimension '{s}'")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (dtype, width, big_endian) = match descr {
        "<f4" | "=f4" => (ElemType::F32, 4, false),
        ">f4" => (ElemType::F32, 4, true),
        "<f8" | "=f8" => (ElemType::F64, 8, false),
        "<f2" | "=f2" => (ElemType::F16, 2, false),
        "|i1" | "i1" => (ElemType::I8, 1, false),
        "|u1" | "u1" => (ElemType::U8, 1, false),
        "|b1" | "b1" => (ElemType::Bool, 1, false),
        "<i2" | "=i2" => (ElemType::I16, 2, false),
        "<i4" | "=i4" => (ElemType::I32, 4, false),
        "<i8" | "=i8" => (ElemType::I64, 8, false),
        "<u4" | "=u4" => (ElemType::U32, 4, false),
        other => return Err(err(format!("unsupported dtype '{other}'"))),
    };
    if big_endian {
        return Err(err("big-endian arrays are not supported".into()));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| err("shape overflows".into()))?;
    let body = &bytes[start + header_len..];
    let needed = count
        .checked_mul(width)
        .ok_or_else(|| err("shape overflows".into()))?;
    if body.len() < needed {
        return Err(err(format!(
            "{} bytes of data for shape {shape:?} ({needed} needed)",
            body.len()
        )));
    }
    let words = body[..needed].chunks_exact(width);
    let data = match dtype {
        ElemType::F32 => TensorData::Float(
            words
                .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect(),
        ),
        ElemType::F64 => TensorData::Float(
            words
                .map(|w| f64::from_le_bytes(w.try_into().unwrap_or([0; 8])) as f32)
                .collect(),
        ),
        ElemType::F16 => TensorData::Float(
            words
                .map(|w| half::f16::from_le_bytes([w[0], w[1]]).to_f32())
                .collect(),
        ),
        ElemType::I8 => TensorData::Int(words.map(|w| i64::from(w[0] as i8)).collect()),
        ElemType::U8 | ElemType::Bool => TensorData::Int(words.map(|w| i64::from(w[0])).collect()),
        ElemType::I16 => TensorData::Int(
            words
                .map(|w| i64::from(i16::from_le_bytes([w[0], w[1]])))
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
        _ => TensorData::Int(
            words
                .map(|w| i64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
    };
    Ok(Tensor { dtype, shape, data })
}

fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|cause| DataError::Io {
        path: path.display().to_string(),
        cause,
    })
}

/// Reads a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Tensor, DataError> {
    parse_npy(&read_file(path)?, &path.display().to_string())
}

/// Reads every array of an `.npz` file, in archive order.
pub fn read_npz(path: &Path) -> Result<Vec<(String, Tensor)>, DataError> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|cause| DataError::Io {
        path: shown.clone(),
        cause,
    })?;
    npz_arrays(std::io::BufReader::new(file), &shown)
}

/// Parses an `.npz` image held in memory (`path` names it in errors).
pub fn parse_npz(bytes: &[u8], path: &str) -> Result<Vec<(String, Tensor)>, DataError> {
    npz_arrays(std::io::Cursor::new(bytes), path)
}

fn npz_arrays(
    reader: impl Read + std::io::Seek,
    shown: &str,
) -> Result<Vec<(String, Tensor)>, DataError> {
    let mut archive = zip::ZipArchive::new(reader)
        .map_err(|e| format_err(shown, format!("not an .npz archive: {e}")))?;
    let mut arrays = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| format_err(shown, e.to_string()))?;
        let name = entry
            .name()
            .map_err(|e| format_err(shown, e.to_string()))?
            .trim_end_matches(".npy")
            .to_string();
        // The entry's declared size bounds the read, and the compressed bytes present bound
        // the declared size: deflate expands at most 1032-fold, storing not at all.
        let (declared, compressed) = (entry.size(), entry.compressed_size());
        if declared > compressed.saturating_mul(MAX_DEFLATE_RATIO) {
            return Err(format_err(
                shown,
                format!(
                    "array '{name}': the archive claims {declared} bytes uncompressed from {compressed} compressed bytes, more than {MAX_DEFLATE_RATIO} times as many"
                ),
            ));
        }
        let mut bytes = Vec::new();
        entry
            .by_ref()
            .take(declared)
            .read_to_end(&mut bytes)
            .map_err(|e| format_err(shown, format!("array '{name}': {e}")))?;
        arrays.push((name.clone(), parse_npy(&bytes, &format!("{shown}:{name}"))?));
    }
    Ok(arrays)
}

/// Reads `.npy` (one array, named after the file stem) or `.npz` (all arrays).
pub fn read_arrays(path: &Path) -> Result<Vec<(String, Tensor)>, DataError> {
    if path.extension().is_some_and(|e| e == "npz") {
        read_npz(path)
    } else {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(vec![(stem, read_npy(path)?)])
    }
}

/// The `.npy` image of a tensor (float32 for floats, int64 for integers, or the tensor's own
/// integer type when it is int8/uint8/int32).
pub fn npy_bytes(t: &Tensor) -> Vec<u8> {
    let (descr, body): (&str, Vec<u8>) = match (&t.data, t.dtype) {
        (TensorData::Float(v), _) => ("<f4", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        (TensorData::Int(v), ElemType::I8) => ("|i1", v.iter().map(|&x| x as i8 as u8).collect()),
        (TensorData::Int(v), ElemType::U8) => ("|u1", v.iter().map(|&x| x as u8).collect()),
        (TensorData::Int(v), ElemType::I32) => (
            "<i4",
            v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
        ),
        (TensorData::Int(v), _) => ("<i8", v.iter().flat_map(|x| x.to_le_bytes()).collect()),
    };
    let dims: String = match t.shape.len() {
        1 => format!("{},", t.shape[0]),
        _ => t
            .shape
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}");
    let total = MAGIC.len() + 4 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&body);
    out
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |cause| DataError::Io {
        path: path.display().to_string(),
        cause,
    }
}

/// Writes one array as `.npy`, atomically.
pub fn write_npy(path: &Path, t: &Tensor) -> Result<(), DataError> {
    crate::artifact::write_atomically(path, &npy_bytes(t)).map_err(io_err(path))
}

/// Writes named arrays as an uncompressed `.npz`, atomically.
pub fn write_npz(path: &Path, arrays: &[(String, Tensor)]) -> Result<(), DataError> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        for (name, t) in arrays {
            let to_io = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
            zip.start_file(format!("{name}.npy"), options)
                .map_err(to_io)
                .map_err(io_err(path))?;
            zip.write_all(&npy_bytes(t)).map_err(io_err(path))?;
        }
        zip.finish()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .map_err(io_err(path))?;
    }
    crate::artifact::write_atomically(path, &cursor.into_inner()).map_err(io_err(path))
}

/// Writes `.npz` when the path ends so, else `.npy` (which needs exactly one array).
pub fn write_arrays(path: &Path, arrays: &[(String, Tensor)]) -> Result<(), DataError> {
    if path.extension().is_some_and(|e| e == "npz") {
        write_npz(path, arrays)
    } else if let [(_, t)] = arrays {
        write_npy(path, t)
    } else {
        Err(format_err(
            &path.display().to_string(),
            format!("{} arrays need an .npz output", arrays.len()),
        ))
    }
}

/// Picks the arrays that feed a model's inputs: the one named `key` (single input), arrays
/// named after the inputs, or else for a single input `x` or the first array that is not a
/// label (`y`, `labels`, `segment`).
pub fn pick_inputs(
    arrays: &[(String, Tensor)],
    input_names: &[String],
    key: Option<&str>,
) -> Result<Vec<Tensor>, String> {
    let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
    let find = |name: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    };
    if let Some(key) = key {
        if input_names.len() != 1 {
            return Err(format!(
                "a data key picks one array, the model has {} inputs",
                input_names.len()
            ));
        }
        return find(key)
            .map(|t| vec![t])
            .ok_or_else(|| format!("no array '{key}' in the data (found {names:?})"));
    }
    if let Some(all) = input_names
        .iter()
        .map(|n| find(n))
        .collect::<Option<Vec<_>>>()
    {
        return Ok(all);
    }
    if input_names.len() == 1 {
        let labels = ["y", "labels", "label", "segment"];
        if let Some(t) = find("x").or_else(|| {
            arrays
                .iter()
                .find(|(n, _)| !labels.contains(&n.as_str()))
                .map(|(_, t)| t.clone())
        }) {
            return Ok(vec![t]);
        }
    }
    Err(format!(
        "cannot tell which arrays feed inputs {input_names:?} (found {names:?}); name them after the inputs or give a key"
    ))
}

/// Integer data converted to the float values a model takes, `(q - zero_point) * scale`,
/// when a scale is given; other data unchanged.
pub fn scale_data(
    t: &Tensor,
    scale: Option<f32>,
    zero_point: Option<i64>,
) -> Result<Tensor, String> {
    match (&t.data, scale) {
        (_, None) if zero_point.is_some() => Err("--input-zero-point needs --input-scale".into()),
        (_, None) => Ok(t.clone()),
        (TensorData::Float(_), Some(_)) => Err(format!(
            "--input-scale converts integer data; this array is {}",
            t.dtype
        )),
        (TensorData::Int(v), Some(s)) => {
            let z = zero_point.unwrap_or(0);
            Ok(Tensor::f32(
                t.shape.clone(),
                v.iter().map(|&q| (q - z) as f32 * s).collect(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips_and_int8_is_read() {
        let t = Tensor::f32(vec![2, 3], vec![1.0, -2.5, 3.0, 0.0, 5.5, -6.0]);
        assert_eq!(parse_npy(&npy_bytes(&t), "t").unwrap(), t);
        let q = Tensor::int(ElemType::I8, vec![4], vec![-128, -1, 0, 127]);
        assert_eq!(parse_npy(&npy_bytes(&q), "q").unwrap(), q);
    }

    #[test]
    fn truncated_data_is_an_error_naming_the_sizes() {
        let t = Tensor::f32(vec![4], vec![1.0; 4]);
        let bytes = npy_bytes(&t);
        let err = parse_npy(&bytes[..bytes.len() - 3], "x.npy")
            .unwrap_err()
            .to_string();
        assert!(err.contains("x.npy") && err.contains("16 needed"), "{err}");
    }

    #[test]
    fn huge_declared_shape_does_not_allocate() {
        let header =
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }";
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        assert!(parse_npy(&bytes, "big").is_err());
    }
}
