//! Packing weights for a target's weight layout as the artifact is written: float32
//! convolution and fully connected weights for [`WeightLayout::Blocked8`], int8 convolution
//! weights for [`WeightLayout::Widened4`]. The program keeps the reference layout (the
//! compiler's other passes read it); only the written blob changes.

use crate::lower::{Loc, Program, loc_of, placeholder};
use std::borrow::Cow;
use std::collections::HashMap;
use whittle_runtime::format::{OpKind, Space, WeightLayout};
use whittle_runtime::kernels::{conv, dense};

/// What the artifact writer writes: blob entries, and operators whose weight buffers name them.
#[derive(Debug)]
pub struct Packed<'p> {
    /// Weight blob entries (a program's entry, or a packed one).
    pub weights: Vec<Cow<'p, [u8]>>,
    /// The program's operators, in order, with their packed weights.
    pub kinds: Vec<OpKind>,
}

/// The weight blob entries and operators to write for `program.layout`: with `Blocked8`,
/// every float32 `Conv2d` and `Dense` whose weights are a blob entry reads a packed entry; with
/// `Widened4`, every int8 `Conv2d` the layout covers ([`conv::widens`]). An
/// entry only such operators read is packed in place; one read otherwise as well (a tensor, a
/// `MatMul`) stays and the operator gets a packed copy.
pub fn packed(program: &Program) -> Result<Packed<'_>, String> {
    let mut weights: Vec<Cow<'_, [u8]>> = program.weights.iter().map(|w| w.into()).collect();
    let mut kinds: Vec<OpKind> = program.ops.iter().map(|op| op.kind).collect();
    if program.layout == WeightLayout::Reference {
        return Ok(Packed { weights, kinds });
    }
    let layout = program.layout;
    let uses = other_uses(program);
    // Per reference entry, the packed entries made from it (index and bytes).
    let mut made: HashMap<usize, Vec<usize>> = HashMap::new();
    for kind in &mut kinds {
        let Some((buf, bytes)) = pack_op(kind, &program.weights, layout)? else {
            continue;
        };
        let Loc::Weight(w) = loc_of(buf) else {
            continue;
        };
        let known = made.entry(w).or_default();
        let index = match known.iter().find(|&&i| *weights[i] == bytes[..]) {
            Some(&i) => i,
            None if known.is_empty() && uses.get(&w).is_none_or(|&n| n == 0) => {
                weights[w] = bytes.into();
                known.push(w);
                w
            }
            None => {
                weights.push(bytes.into());
                known.push(weights.len() - 1);
                weights.len() - 1
            }
        };
        let len = weights[index].len();
        *buf = placeholder(Loc::Weight(index), len);
    }
    Ok(Packed { weights, kinds })
}

/// Whether `layout` packs the weights of any of `program`'s operators; an artifact where it
/// packs none is written in the reference layout, which every runtime build loads.
pub fn packs_any(program: &Program, layout: WeightLayout) -> bool {
    program
        .ops
        .iter()
        .any(|op| packable_weights(&op.kind, layout).is_some())
}

/// Per blob entry, how many references are not the weights of a packable operator.
fn other_uses(program: &Program) -> HashMap<usize, usize> {
    let mut uses: HashMap<usize, usize> = HashMap::new();
    for t in &program.tensors {
        if let Loc::Weight(w) = t.loc {
            *uses.entry(w).or_default() += 1;
        }
    }
    for op in &program.ops {
        let mut kind = op.kind;
        let packable = packable_weights(&kind, program.layout);
        for buf in kind.buffers_mut() {
            if buf.space == Space::Weights && Some(*buf) != packable {
                *uses.entry(buf.offset as usize).or_default() += 1;
            }
        }
    }
    uses
}

/// The weights buffer of an operator `layout` packs: a float32 `Conv2d` or `Dense` with
/// `Blocked8`, an int8 `Conv2d` it covers with `Widened4`.
fn packable_weights(kind: &OpKind, layout: WeightLayout) -> Option<whittle_runtime::format::Buf> {
    match kind {
        OpKind::Conv2d(op) if layout.packs(op.weights) => Some(op.weights),
        OpKind::Dense(op) if layout.packs(op.weights) => Some(op.weights),
        OpKind::Conv2dI8(op) if layout.widens(&op.geom, op.weights) => Some(op.weights),
        _ => None,
    }
}

/// The weights buffer of a packable operator and its packed bytes.
fn pack_op<'k>(
    kind: &'k mut OpKind,
    blob: &[Vec<u8>],
    layout: WeightLayout,
) -> Result<Option<(&'k mut whittle_runtime::format::Buf, Vec<u8>)>, String> {
    if packable_weights(kind, layout).is_none() {
        return Ok(None);
    }
    let bytes_of = |buf: &whittle_runtime::format::Buf| -> Result<&[u8], String> {
        Ok(blob
            .get(buf.offset as usize)
            .ok_or("a weight index past the blob")?)
    };
    let entry = |buf: &whittle_runtime::format::Buf| -> Result<Vec<f32>, String> {
        Ok(bytes_of(buf)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    };
    let mismatch = |what: &str| format!("{what} weights do not fit their geometry for packing");
    let (buf, packed) = match kind {
        OpKind::Conv2d(op) => {
            let w = entry(&op.weights)?;
            let len = conv::blocked_len(&op.geom).map_err(|_| mismatch("Conv2d"))?;
            let mut packed = vec![0.0f32; len];
            conv::pack_blocked(&op.geom, &w, &mut packed).map_err(|_| mismatch("Conv2d"))?;
            (&mut op.weights, packed)
        }
        OpKind::Dense(op) => {
            let w = entry(&op.weights)?;
            let shape = dense::DenseShape {
                rows: op.rows,
                in_features: op.in_features,
                out_features: op.out_features,
            };
            let len = shape.blocked_len().ok_or_else(|| mismatch("Dense"))?;
            let mut packed = vec![0.0f32; len];
            dense::pack_blocked(shape, &w, &mut packed).map_err(|_| mismatch("Dense"))?;
            (&mut op.weights, packed)
        }
        OpKind::Conv2dI8(op) => {
            let w: Vec<i8> = bytes_of(&op.weights)?.iter().map(|&b| b as i8).collect();
            let len = conv::widened_len(&op.geom).map_err(|_| mismatch("int8 Conv2d"))?;
            let mut widened = vec![0u32; len];
            conv::pack_widened(&op.geom, &w, &mut widened).map_err(|_| mismatch("int8 Conv2d"))?;
            let bytes = widened.iter().flat_map(|v| v.to_le_bytes()).collect();
            return Ok(Some((&mut op.weights, bytes)));
        }
        _ => return Ok(None),
    };
    let bytes = packed.iter().flat_map(|v| v.to_le_bytes()).collect();
    Ok(Some((buf, bytes)))
}

/// The reference layout (`[channels][per_channel]`) of `Blocked8` weights
/// (`[ceil(channels / 8)][per_channel][8]`), for tools that read an artifact's weights back.
/// `None` when `packed` has another length.
pub fn unblocked(packed: &[f32], channels: usize, per_channel: usize) -> Option<Vec<f32>> {
    const L: usize = whittle_runtime::format::WEIGHT_BLOCK;
    if packed.len() != channels.div_ceil(L) * per_channel * L {
        return None;
    }
    let mut out = Vec::with_capacity(channels * per_channel);
    for c in 0..channels {
        let block = (c / L) * per_channel * L;
        out.extend((0..per_channel).map(|t| packed[block + t * L + c % L]));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::unblocked;
    use whittle_runtime::kernels::dense::{DenseShape, pack_blocked};

    #[test]
    fn unblocking_inverts_the_runtime_packing() {
        for (out, inf) in [(1usize, 3usize), (8, 2), (11, 5), (17, 1)] {
            let w: Vec<f32> = (0..out * inf).map(|v| v as f32 + 0.5).collect();
            let shape = DenseShape {
                rows: 1,
                in_features: inf as u32,
                out_features: out as u32,
            };
            let mut packed = vec![f32::NAN; shape.blocked_len().unwrap()];
            pack_blocked(shape, &w, &mut packed).unwrap();
            assert_eq!(packed.len(), out.div_ceil(8) * 8 * inf);
            assert_eq!(
                packed.iter().filter(|&&v| v == 0.0).count(),
                (out.div_ceil(8) * 8 - out) * inf
            );
            assert_eq!(unblocked(&packed, out, inf).unwrap(), w);
            assert_eq!(unblocked(&packed[1..], out, inf), None);
        }
    }
}
