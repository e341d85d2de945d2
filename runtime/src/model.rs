//! Loading an artifact: preamble, checksum, header, and a full verification of every operator.

use crate::format::{
    CRC_LEN, DIGEST_LEN, FLAG_SHA256, Header, OpDesc, PREAMBLE_LEN, Preamble, TensorDesc,
    WEIGHT_ALIGN, WeightLayout,
};
use crate::{LoadError, crc32, verify};

/// A verified artifact, borrowed in place. Holds no copy of the weights.
#[derive(Debug, Clone, Copy)]
pub struct Model<'a> {
    header: Header<'a>,
    weights: &'a [u8],
    digest: Option<&'a [u8; DIGEST_LEN]>,
    total_len: u32,
}

/// Whether a load compares the stored checksums with the contents.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Integrity {
    Check,
    Skip,
}

/// Alignment the weight blob needs in memory for typed (4-byte) reads.
const WEIGHT_MEMORY_ALIGN: usize = 4;

impl<'a> Model<'a> {
    /// Checks the magic, version, lengths, CRC-32, SHA-256 digest (with the `sha256`
    /// feature), header, every tensor and every operator.
    ///
    /// `bytes` may be longer than the artifact (for example a padded flash region); the
    /// weight blob must start at a 4-byte aligned address, which holds whenever `bytes` starts
    /// 16-byte aligned.
    pub fn load(bytes: &'a [u8]) -> Result<Self, LoadError> {
        Self::load_checked(bytes, Integrity::Check)
    }

    /// Like [`Model::load`] but without comparing the CRC-32 and the digest with the contents:
    /// for diagnosis only, after `load` reported [`LoadError::ChecksumMismatch`] or
    /// [`LoadError::DigestMismatch`]. Every structural check still runs, so running the model
    /// stays memory-safe and panic-free; its weights may be damaged, which is what running
    /// the validation vectors on it then locates (the first diverging layer).
    pub fn load_for_diagnosis(bytes: &'a [u8]) -> Result<Self, LoadError> {
        Self::load_checked(bytes, Integrity::Skip)
    }

    fn load_checked(bytes: &'a [u8], integrity: Integrity) -> Result<Self, LoadError> {
        let preamble = Preamble::parse(bytes)?;
        let total = preamble.total_len as usize;
        if bytes.len() < total {
            return Err(LoadError::Truncated {
                needed: preamble.total_len,
                got: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
            });
        }
        let digest_len = if preamble.flags & FLAG_SHA256 != 0 {
            DIGEST_LEN
        } else {
            0
        };
        if total < PREAMBLE_LEN + digest_len + CRC_LEN {
            return Err(LoadError::BadLayout);
        }
        let (sealed, trailer) = bytes
            .get(..total)
            .and_then(<[u8]>::split_last_chunk::<CRC_LEN>)
            .ok_or(LoadError::BadLayout)?;
        let (body, digest) = sealed
            .split_at_checked(sealed.len() - digest_len)
            .ok_or(LoadError::BadLayout)?;
        if integrity == Integrity::Check {
            let stored = u32::from_le_bytes(*trailer);
            let computed = crc32(sealed);
            if stored != computed {
                return Err(LoadError::ChecksumMismatch { stored, computed });
            }
            #[cfg(feature = "sha256")]
            if !digest.is_empty() && crate::checksum::sha256(body)[..] != *digest {
                return Err(LoadError::DigestMismatch);
            }
        }

        let header_end = PREAMBLE_LEN
            .checked_add(preamble.header_len as usize)
            .ok_or(LoadError::BadLayout)?;
        let weights_start = preamble.weights_offset as usize;
        let weights_end = weights_start
            .checked_add(preamble.weights_len as usize)
            .ok_or(LoadError::BadLayout)?;
        if header_end.checked_next_multiple_of(WEIGHT_ALIGN) != Some(weights_start)
            || weights_end != body.len()
        {
            return Err(LoadError::BadLayout);
        }
        let weights = &body[weights_start..weights_end];
        if !weights.is_empty() && weights.as_ptr().addr() % WEIGHT_MEMORY_ALIGN != 0 {
            return Err(LoadError::Misaligned {
                required: WEIGHT_MEMORY_ALIGN as u32,
            });
        }

        let header_bytes = body
            .get(PREAMBLE_LEN..header_end)
            .ok_or(LoadError::BadLayout)?;
        let (header, rest) = postcard::take_from_bytes::<Header<'a>>(header_bytes)
            .map_err(|_| LoadError::BadHeader)?;
        if !rest.is_empty() {
            return Err(LoadError::BadHeader);
        }
        let layout = WeightLayout::from_id(header.layout)
            .filter(|l| l.supported())
            .ok_or(LoadError::UnsupportedLayout {
                found: header.layout,
            })?;
        verify::verify(&header, layout, weights)?;
        Ok(Model {
            header,
            weights,
            digest: <&[u8; DIGEST_LEN]>::try_from(digest).ok(),
            total_len: preamble.total_len,
        })
    }

    /// Like [`Model::load`], and also requires the artifact to be compiled for `target`.
    pub fn load_for_target(bytes: &'a [u8], target: &str) -> Result<Self, LoadError> {
        let model = Self::load(bytes)?;
        if model.header.target != target {
            return Err(LoadError::TargetMismatch);
        }
        Ok(model)
    }

    /// The decoded header.
    pub fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// Arena bytes [`crate::Interpreter::new`] needs (plus up to 15 if the slice it is given
    /// is not 16-byte aligned).
    pub fn arena_bytes(&self) -> usize {
        self.header.arena_bytes as usize
    }

    /// The activation liveness lower bound the compiler computed.
    pub fn arena_lower_bound_bytes(&self) -> usize {
        self.header.arena_lower_bound_bytes as usize
    }

    /// Target profile name the artifact was compiled for.
    pub fn target(&self) -> &'a str {
        self.header.target
    }

    /// The layout of the float32 convolution and fully connected weights (checked on load to
    /// be one this build runs).
    pub fn layout(&self) -> WeightLayout {
        WeightLayout::from_id(self.header.layout).unwrap_or_default()
    }

    /// The weight blob, in place.
    pub fn weights(&self) -> &'a [u8] {
        self.weights
    }

    /// The SHA-256 digest the artifact carries (of every byte before it), if any. Checked on
    /// load with the `sha256` feature.
    pub fn digest(&self) -> Option<&'a [u8; DIGEST_LEN]> {
        self.digest
    }

    /// Length of the artifact in bytes.
    pub fn artifact_bytes(&self) -> usize {
        self.total_len as usize
    }

    /// Number of model inputs.
    pub fn input_count(&self) -> usize {
        self.header.inputs.len() as usize
    }

    /// Number of model outputs.
    pub fn output_count(&self) -> usize {
        self.header.outputs.len() as usize
    }

    /// Description of input `index`.
    pub fn input(&self, index: usize) -> Option<TensorDesc<'a>> {
        let io = self.header.inputs.get(u32::try_from(index).ok()?)?;
        self.header.tensors.get(io.tensor)
    }

    /// Description of output `index`.
    pub fn output(&self, index: usize) -> Option<TensorDesc<'a>> {
        let io = self.header.outputs.get(u32::try_from(index).ok()?)?;
        self.header.tensors.get(io.tensor)
    }

    /// Operators in execution order.
    pub fn ops(&self) -> impl Iterator<Item = OpDesc> + 'a {
        // Every element decoded during `load`, so none fails here.
        self.header.ops.iter().filter_map(Result::ok)
    }

    /// The named tensors (model I/O and operator outputs).
    pub fn tensors(&self) -> impl Iterator<Item = TensorDesc<'a>> + 'a {
        self.header.tensors.iter().filter_map(Result::ok)
    }
}
