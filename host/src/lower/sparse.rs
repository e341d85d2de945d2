//! Sparse int8 weights: an int8 convolution or fully connected layer whose weights take fewer
//! bytes as a bitmap of nonzero positions plus the nonzero values
//! ([`whittle_runtime::format::SparseI8`]) is rewritten to its sparse operator. Float weights
//! stay dense: a float sum skipping zeros in another order could round differently, while the
//! int8 operators accumulate in exact int32 arithmetic, so sparse and dense agree bit for bit.

use super::{Loc, Program, loc_of, placeholder};
use whittle_runtime::format::{
    Conv2dI8Sparse, DenseI8Sparse, OpKind, SparseI8, WEIGHT_ALIGN, bitmap_row_bytes,
};

/// Whether the compiler may store int8 weights sparse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SparseMode {
    /// Always dense: the default, because the sparse kernels are slower and need the runtime's
    /// `sparse` feature, which a firmware built for only the dense operators lacks.
    #[default]
    Off,
    /// Sparse for every layer where that takes fewer bytes in the weight blob.
    Auto,
}

impl SparseMode {
    /// Parses `off` or `auto`.
    pub fn parse(s: &str) -> Result<SparseMode, String> {
        match s {
            "off" => Ok(SparseMode::Off),
            "auto" => Ok(SparseMode::Auto),
            other => Err(format!("unknown sparse mode '{other}' (off, auto)")),
        }
    }
}

/// A weight tensor in the sparse encoding, as blob entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The nonzero int8 values, row after row.
    pub values: Vec<u8>,
    /// One bit per weight, least significant first, rows padded to bytes.
    pub bitmap: Vec<u8>,
    /// `rows + 1` little-endian u32 start offsets of each row's values.
    pub offsets: Vec<u8>,
}

impl Encoded {
    /// Bytes the three entries take in the weight blob, with the alignment of each.
    pub fn blob_bytes(&self) -> usize {
        [&self.values, &self.bitmap, &self.offsets]
            .iter()
            .map(|e| aligned(e.len()))
            .sum()
    }
}

fn aligned(len: usize) -> usize {
    len.next_multiple_of(WEIGHT_ALIGN)
}

/// Encodes `weights` (int8 as bytes) of `rows` rows of `row_len` weights each.
pub fn encode(weights: &[u8], rows: usize, row_len: usize) -> Encoded {
    let row_bytes = bitmap_row_bytes(row_len);
    let mut e = Encoded {
        values: Vec::new(),
        bitmap: vec![0; rows * row_bytes],
        offsets: Vec::with_capacity((rows + 1) * 4),
    };
    e.offsets.extend_from_slice(&0u32.to_le_bytes());
    for r in 0..rows {
        let row = &weights[r * row_len..(r + 1) * row_len];
        for (i, &w) in row.iter().enumerate() {
            if w != 0 {
                e.bitmap[r * row_bytes + i / 8] |= 1 << (i % 8);
                e.values.push(w);
            }
        }
        e.offsets
            .extend_from_slice(&(e.values.len() as u32).to_le_bytes());
    }
    e
}

/// What [`sparsify`] did to one operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SparseLayer {
    /// Index of the operator in the program.
    pub op: usize,
    /// Its weight blob bytes before (dense, aligned).
    pub dense_bytes: usize,
    /// Its weight blob bytes after (values, bitmap and offsets, each aligned).
    pub sparse_bytes: usize,
}

/// Rewrites every int8 convolution and fully connected layer whose weights take fewer blob
/// bytes sparse; returns the layers it rewrote. Weights shared with another operator or
/// tensor stay dense.
pub fn sparsify(program: &mut Program) -> Vec<SparseLayer> {
    let mut uses = vec![0usize; program.weights.len()];
    let mut count = |loc: Loc| {
        if let Loc::Weight(w) = loc
            && let Some(n) = uses.get_mut(w)
        {
            *n += 1;
        }
    };
    for op in &mut program.ops {
        let mut kind = op.kind;
        kind.buffers_mut().for_each(|b| count(loc_of(b)));
    }
    for t in &program.tensors {
        count(t.loc);
    }
    let mut done = Vec::new();
    for index in 0..program.ops.len() {
        let (weights, rows, row_len) = match &program.ops[index].kind {
            OpKind::Conv2dI8(c) => {
                let g = &c.geom;
                let row = g.kernel_h * g.kernel_w * (g.in_c / g.groups.max(1));
                (c.weights, g.out_c as usize, row as usize)
            }
            OpKind::DenseI8(d) => (d.weights, d.out_features as usize, d.in_features as usize),
            _ => continue,
        };
        let Loc::Weight(w) = loc_of(&weights) else {
            continue;
        };
        if uses.get(w) != Some(&1) || program.weights[w].len() != rows * row_len {
            continue;
        }
        let encoded = encode(&program.weights[w], rows, row_len);
        let dense_bytes = aligned(program.weights[w].len());
        let sparse_bytes = encoded.blob_bytes();
        if sparse_bytes >= dense_bytes {
            continue;
        }
        let values = placeholder(Loc::Weight(w), encoded.values.len());
        let sparse = SparseI8 {
            bitmap: placeholder(Loc::Weight(program.weights.len()), encoded.bitmap.len()),
            offsets: placeholder(
                Loc::Weight(program.weights.len() + 1),
                encoded.offsets.len(),
            ),
        };
        program.weights[w] = encoded.values;
        program.weights.push(encoded.bitmap);
        program.weights.push(encoded.offsets);
        let kind = &mut program.ops[index].kind;
        *kind = match *kind {
            OpKind::Conv2dI8(mut conv) => {
                conv.weights = values;
                OpKind::Conv2dI8Sparse(Conv2dI8Sparse { conv, sparse })
            }
            OpKind::DenseI8(mut dense) => {
                dense.weights = values;
                OpKind::DenseI8Sparse(DenseI8Sparse { dense, sparse })
            }
            other => other,
        };
        done.push(SparseLayer {
            op: index,
            dense_bytes,
            sparse_bytes,
        });
    }
    done
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn encoding_packs_rows_bitmaps_and_offsets() {
        // Two rows of 10: bits past 10 in each row's second byte stay clear.
        let mut w = vec![0u8; 20];
        w[0] = 5;
        w[9] = 0xff; // -1
        w[13] = 7;
        let e = encode(&w, 2, 10);
        assert_eq!(e.values, vec![5, 0xff, 7]);
        assert_eq!(e.bitmap, vec![0b0000_0001, 0b0000_0010, 0b0000_1000, 0]);
        let offsets: Vec<u32> = e
            .offsets
            .chunks(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(offsets, vec![0, 2, 3]);
    }
}
