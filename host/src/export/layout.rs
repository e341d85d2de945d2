//! Data movement of any element type: `Transpose`, `Pad`, and the strided block copy
//! (slices, splits and concatenations) as `Gather` / `ScatterElements` on flat views.

use super::ExportError;
use super::graph::{Exporter, Value, elem_type};
use crate::onnx::build::Attr;
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::DType;
use whittle_runtime::format::{Copy, Pad, Shape, Transpose};

fn dims(s: &Shape) -> Vec<i64> {
    s.dims().iter().map(|&d| i64::from(d)).collect()
}

/// `Transpose`.
pub fn transpose(x: &mut Exporter<'_>, tensor: u32, op: &Transpose) -> Result<(), ExportError> {
    let in_dims = dims(&op.in_shape);
    let (input, v) = x.operand(op.input, &in_dims)?;
    let perm: Vec<i64> = op.perm[..in_dims.len()]
        .iter()
        .map(|&p| i64::from(p))
        .collect();
    let out: Vec<i64> = perm
        .iter()
        .map(|&p| in_dims.get(p as usize).copied())
        .collect::<Option<_>>()
        .ok_or_else(|| x.fail(format!("permutation {perm:?} for rank {}", in_dims.len())))?;
    let y =
        x.b.node("Transpose", &[&input], vec![("perm", Attr::Ints(perm))]);
    x.define(tensor, op.output, &y, &out, v.dtype)?;
    x.inherit_quant(op.output, v.quant);
    Ok(())
}

/// The padding value, typed as the data.
fn pad_value(x: &mut Exporter<'_>, dtype: DType, bits: u32) -> Result<String, ExportError> {
    let t = match dtype {
        DType::F32 => Tensor::f32(vec![], vec![f32::from_bits(bits)]),
        DType::I8 => Tensor::int(ElemType::I8, vec![], vec![i64::from(bits as u8 as i8)]),
        DType::I16 => Tensor::int(ElemType::I16, vec![], vec![i64::from(bits as u16 as i16)]),
        DType::I32 => Tensor::int(ElemType::I32, vec![], vec![i64::from(bits as i32)]),
        other => return Err(x.fail(format!("padding of {other:?} data"))),
    };
    Ok(x.konst("pad_value", &t))
}

/// Constant `Pad`.
pub fn pad(x: &mut Exporter<'_>, tensor: u32, op: &Pad) -> Result<(), ExportError> {
    let (in_dims, out_dims) = (dims(&op.in_shape), dims(&op.out_shape));
    let (input, v) = x.operand(op.input, &in_dims)?;
    let rank = in_dims.len();
    let begin: Vec<i64> = op.begin[..rank].iter().map(|&b| i64::from(b)).collect();
    let end: Vec<i64> = (0..rank)
        .map(|i| out_dims.get(i).map_or(-1, |&o| o - in_dims[i] - begin[i]))
        .collect();
    if out_dims.len() != rank || end.iter().any(|&e| e < 0) {
        return Err(x.fail(format!(
            "padding {in_dims:?} by {begin:?} does not give {out_dims:?}"
        )));
    }
    let pads = x.i64s(&[begin, end].concat());
    let value = pad_value(x, op.dtype, op.value_bits)?;
    let y = x.b.node(
        "Pad",
        &[&input, &pads, &value],
        vec![("mode", Attr::Str("constant".into()))],
    );
    x.define(tensor, op.output, &y, &out_dims, v.dtype)?;
    x.inherit_quant(op.output, v.quant);
    Ok(())
}

/// Element indices of a block copy: `(source, destination)` for every element moved.
fn copy_indices(op: &Copy, size: u32) -> Option<(Vec<i64>, Vec<i64>)> {
    let fields = [
        op.block_bytes,
        op.src_stride,
        op.src_offset,
        op.dst_stride,
        op.dst_offset,
    ];
    if fields.iter().any(|f| f % size != 0) {
        return None;
    }
    let [block, src_stride, src_off, dst_stride, dst_off] = fields.map(|f| i64::from(f / size));
    let (mut src, mut dst) = (Vec::new(), Vec::new());
    for i in 0..i64::from(op.blocks) {
        for j in 0..block {
            src.push(src_off + i * src_stride + j);
            dst.push(dst_off + i * dst_stride + j);
        }
    }
    Some((src, dst))
}

/// Strided block copy: a `Gather` of the moved elements from the flat input; when the
/// copy writes only part of its output (one input of a concatenation), a `ScatterElements`
/// into what earlier copies wrote there.
pub fn copy(x: &mut Exporter<'_>, tensor: u32, op: &Copy) -> Result<(), ExportError> {
    let desc = x.tensor(tensor)?;
    let out_dims = super::graph::dims_of(&desc);
    let n_out: i64 = out_dims.iter().product();
    let v = x.read(op.input)?;
    let n_in: i64 = v.dims.iter().product();
    let size = v.dtype.size() as u32;
    let (src, dst) = copy_indices(op, size).ok_or_else(|| {
        x.fail(format!(
            "offsets and strides not multiples of the {size}-byte element"
        ))
    })?;
    if src.iter().any(|&i| i >= n_in) || dst.iter().any(|&i| i >= n_out) {
        return Err(x.fail("copies past the end of its input or output"));
    }
    let flat = x.shaped(&v, &[n_in])?;
    let src_len = src.len();
    let idx = x.konst("index", &Tensor::i64_vec(src));
    let moved =
        x.b.node("Gather", &[&flat, &idx], vec![("axis", Attr::Int(0))]);
    let whole = dst.len() as i64 == n_out && dst.iter().enumerate().all(|(i, &d)| d == i as i64);
    let y = if whole {
        moved
    } else {
        // Earlier copies of the same concatenation, or zeros for the bytes none wrote yet.
        let base = match x.read(op.output) {
            Ok(prev) if prev.partial && prev.dtype == v.dtype => x.shaped(&prev, &[n_out])?,
            _ => {
                let et = elem_type(v.dtype).ok_or_else(|| x.fail("unknown element type"))?;
                let zeros = match et {
                    ElemType::F32 => Tensor::f32(vec![n_out as usize], vec![0.0; n_out as usize]),
                    _ => Tensor::int(et, vec![n_out as usize], vec![0; n_out as usize]),
                };
                x.konst("zeros", &zeros)
            }
        };
        debug_assert_eq!(src_len, dst.len());
        let didx = x.konst("index", &Tensor::i64_vec(dst));
        x.b.node(
            "ScatterElements",
            &[&base, &didx, &moved],
            vec![("axis", Attr::Int(0))],
        )
    };
    let out = x.shaped(
        &Value {
            name: y,
            dims: vec![n_out],
            dtype: v.dtype,
            quant: None,
            partial: false,
        },
        &out_dims,
    )?;
    x.write(
        op.output,
        Value {
            name: out,
            dims: out_dims,
            dtype: v.dtype,
            quant: desc.quant.or(v.quant),
            partial: !whole,
        },
    );
    Ok(())
}
