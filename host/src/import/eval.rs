//! Compile-time evaluation of operators whose inputs are all constants.

use crate::ir::{Op, SliceAttrs};
use crate::tensor::{ElemType, Tensor, TensorData};
use whittle_runtime::format::BinaryKind;
use whittle_runtime::kernels::{binary, unary};

/// Evaluates `op` on constant inputs. `None` when whittle does not fold this operator (it then
/// runs on the device with constant operands). `outputs` are the inferred types and shapes.
pub fn eval(
    op: &Op,
    inputs: &[Option<&Tensor>],
    outputs: &[(ElemType, Vec<usize>)],
) -> Option<Result<Vec<Tensor>, String>> {
    let x = inputs.first().copied().flatten()?;
    let (dtype, shape) = outputs.first()?.clone();
    let one = |t: Tensor| Some(Ok(vec![t]));
    match op {
        Op::Identity | Op::Reshape { .. } => one(x.reshaped(shape)),
        Op::Transpose { perm: Some(perm) } => one(x.transposed(perm)),
        Op::Cast { to } => one(x.cast(*to)),
        Op::Unary(kind) => one(match &x.data {
            TensorData::Float(v) => {
                Tensor::f32(shape, v.iter().map(|&e| unary::apply(*kind, e)).collect())
            }
            TensorData::Int(_) => Tensor::f32(
                shape,
                x.to_f32().iter().map(|&e| unary::apply(*kind, e)).collect(),
            )
            .cast(dtype),
        }),
        Op::Binary { kind, act } => {
            let mut acc = x.clone();
            for y in inputs.iter().skip(1).copied() {
                let partial = crate::import::shapes::broadcast(&acc.shape, &y?.shape).ok()?;
                acc = match broadcast_binary(&acc, y?, &partial, *kind)? {
                    Ok(t) => t,
                    Err(e) => return Some(Err(e)),
                };
            }
            Some(Ok(acc).map(|out: Tensor| {
                vec![match out.data {
                    TensorData::Float(v) => {
                        Tensor::f32(shape, v.iter().map(|&e| act.apply(e)).collect())
                    }
                    TensorData::Int(_) => out,
                }]
            }))
        }
        Op::Concat { axis } => {
            let parts: Option<Vec<&Tensor>> = inputs.iter().copied().collect();
            one(concat(&parts?, *axis as usize, dtype, shape))
        }
        Op::Slice {
            attrs:
                Some(SliceAttrs {
                    starts,
                    ends,
                    axes: Some(axes),
                }),
        } => {
            let mut t = x.clone();
            for i in 0..axes.len() {
                t = narrow(
                    &t,
                    axes[i] as usize,
                    starts[i] as usize,
                    (ends[i] - starts[i]) as usize,
                );
            }
            one(t)
        }
        Op::Split {
            axis,
            split: Some(sizes),
        } => {
            let mut start = 0usize;
            let parts = sizes
                .iter()
                .map(|&s| {
                    let t = narrow(x, *axis as usize, start, s as usize);
                    start += s as usize;
                    t
                })
                .collect();
            Some(Ok(parts))
        }
        Op::Gather { axis } => {
            let indices = inputs.get(1).copied().flatten()?;
            Some(gather(x, indices, *axis as usize, shape))
        }
        Op::ConstantOfShape { value } => {
            let n = shape.iter().product();
            one(match &value.data {
                TensorData::Float(v) => {
                    Tensor::f32(shape, vec![v.first().copied().unwrap_or(0.0); n])
                }
                TensorData::Int(v) => {
                    Tensor::int(value.dtype, shape, vec![v.first().copied().unwrap_or(0); n])
                }
            })
        }
        Op::Range => {
            let start = inputs.first().copied().flatten()?;
            let delta = inputs.get(2).copied().flatten()?;
            let n = shape[0];
            one(match (&start.data, &delta.data) {
                (TensorData::Int(s), TensorData::Int(d)) => Tensor::int(
                    dtype,
                    shape,
                    (0..n as i64).map(|i| s[0] + i * d[0]).collect(),
                ),
                _ => {
                    let (s, d) = (start.to_f32()[0], delta.to_f32()[0]);
                    Tensor::f32(shape, (0..n).map(|i| s + i as f32 * d).collect())
                }
            })
        }
        Op::Dequantize { axis } => {
            let scale = inputs.get(1).copied().flatten()?;
            let zero = inputs.get(2).copied().flatten();
            Some(dequantize(x, scale, zero, *axis).map(|t| vec![t]))
        }
        Op::Quantize { axis } => {
            let scale = inputs.get(1).copied().flatten()?;
            let zero = inputs.get(2).copied().flatten();
            Some(quantize(x, scale, zero, *axis, dtype).map(|t| vec![t]))
        }
        Op::Pad {
            pads: Some(pads),
            value,
        } => one(pad(x, pads, *value, shape)),
        _ => None,
    }
}

/// Index into `t` of the element at output multi-index `index` under broadcasting.
fn broadcast_offset(t_shape: &[usize], out_shape: &[usize], index: &[usize]) -> usize {
    let skip = out_shape.len() - t_shape.len();
    let mut at = 0;
    for (d, &dim) in t_shape.iter().enumerate() {
        at = at * dim + if dim == 1 { 0 } else { index[skip + d] };
    }
    at
}

fn for_each_index(shape: &[usize], mut f: impl FnMut(&[usize])) {
    let n: usize = shape.iter().product();
    let mut index = vec![0; shape.len()];
    for _ in 0..n {
        f(&index);
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
}

fn broadcast_binary(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    kind: BinaryKind,
) -> Option<Result<Tensor, String>> {
    let mut pairs = Vec::with_capacity(shape.iter().product());
    for_each_index(shape, |i| {
        pairs.push((
            broadcast_offset(&a.shape, shape, i),
            broadcast_offset(&b.shape, shape, i),
        ))
    });
    Some(Ok(match (&a.data, &b.data) {
        (TensorData::Int(x), TensorData::Int(y)) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (i, j) in pairs {
                let (p, q) = (x[i], y[j]);
                out.push(match kind {
                    BinaryKind::Add => p.wrapping_add(q),
                    BinaryKind::Sub => p.wrapping_sub(q),
                    BinaryKind::Mul => p.wrapping_mul(q),
                    BinaryKind::Div if q == 0 => {
                        return Some(Err("integer division by zero in a constant".into()));
                    }
                    BinaryKind::Div => p.wrapping_div(q),
                    BinaryKind::Max => p.max(q),
                    BinaryKind::Min => p.min(q),
                });
            }
            Tensor::int(a.dtype, shape.to_vec(), out)
        }
        _ => {
            let (x, y) = (a.to_f32(), b.to_f32());
            Tensor::f32(
                shape.to_vec(),
                pairs
                    .iter()
                    .map(|&(i, j)| binary::apply(kind, x[i], y[j]))
                    .collect(),
            )
        }
    }))
}

/// The sub-tensor `start..start + len` along `axis`.
pub fn narrow(t: &Tensor, axis: usize, start: usize, len: usize) -> Tensor {
    let outer: usize = t.shape[..axis].iter().product();
    let inner: usize = t.shape[axis + 1..].iter().product();
    let dim = t.shape[axis];
    let mut shape = t.shape.clone();
    shape[axis] = len;
    let pick = |o: usize| (o * dim + start) * inner..(o * dim + start + len) * inner;
    let data = match &t.data {
        TensorData::Float(v) => {
            TensorData::Float((0..outer).flat_map(|o| v[pick(o)].to_vec()).collect())
        }
        TensorData::Int(v) => {
            TensorData::Int((0..outer).flat_map(|o| v[pick(o)].to_vec()).collect())
        }
    };
    Tensor {
        dtype: t.dtype,
        shape,
        data,
    }
}

fn concat(parts: &[&Tensor], axis: usize, dtype: ElemType, shape: Vec<usize>) -> Tensor {
    let outer: usize = shape[..axis].iter().product();
    let chunk = |t: &Tensor| t.shape[axis..].iter().product::<usize>();
    if parts.iter().all(|t| matches!(t.data, TensorData::Int(_))) {
        let mut out = Vec::new();
        for o in 0..outer {
            for t in parts {
                let v = t.to_i64();
                out.extend_from_slice(&v[o * chunk(t)..(o + 1) * chunk(t)]);
            }
        }
        Tensor::int(dtype, shape, out)
    } else {
        let mut out = Vec::new();
        for o in 0..outer {
            for t in parts {
                let v = t.to_f32();
                out.extend_from_slice(&v[o * chunk(t)..(o + 1) * chunk(t)]);
            }
        }
        Tensor::f32(shape, out)
    }
}

fn gather(
    source: &Tensor,
    indices: &Tensor,
    axis: usize,
    shape: Vec<usize>,
) -> Result<Vec<Tensor>, String> {
    let dim = source.shape[axis] as i64;
    let outer: usize = source.shape[..axis].iter().product();
    let inner: usize = source.shape[axis + 1..].iter().product();
    let idx = indices
        .to_i64()
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + dim } else { i };
            if (0..dim).contains(&j) {
                Ok(j as usize)
            } else {
                Err(format!("Gather index {i} out of range {dim}"))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut order = Vec::with_capacity(shape.iter().product());
    for o in 0..outer {
        for &j in &idx {
            order.extend((0..inner).map(|k| (o * dim as usize + j) * inner + k));
        }
    }
    let data = match &source.data {
        TensorData::Float(v) => TensorData::Float(order.iter().map(|&i| v[i]).collect()),
        TensorData::Int(v) => TensorData::Int(order.iter().map(|&i| v[i]).collect()),
    };
    Ok(vec![Tensor {
        dtype: source.dtype,
        shape,
        data,
    }])
}

/// Per-element parameter index for per-axis quantization.
fn param_index(
    shape: &[usize],
    axis: i64,
    params: usize,
) -> Result<impl Fn(usize) -> usize, String> {
    let rank = shape.len();
    let (inner, dim) = if params <= 1 {
        (1, 1)
    } else {
        let a = super::shapes::axis(axis, rank)?;
        if shape[a] != params {
            return Err(format!(
                "{params} quantization parameters for axis {a} of {shape:?}"
            ));
        }
        (shape[a + 1..].iter().product::<usize>(), shape[a])
    };
    Ok(move |i: usize| (i / inner) % dim)
}

fn dequantize(
    x: &Tensor,
    scale: &Tensor,
    zero: Option<&Tensor>,
    axis: i64,
) -> Result<Tensor, String> {
    let s = scale.to_f32();
    let z = zero.map(Tensor::to_i64).unwrap_or_else(|| vec![0; s.len()]);
    if z.len() != s.len() {
        return Err("DequantizeLinear scale and zero point differ in length".into());
    }
    let at = param_index(&x.shape, axis, s.len())?;
    let v = x.to_i64();
    Ok(Tensor::f32(
        x.shape.clone(),
        v.iter()
            .enumerate()
            .map(|(i, &q)| (q - z[at(i)]) as f32 * s[at(i)])
            .collect(),
    ))
}

fn quantize(
    x: &Tensor,
    scale: &Tensor,
    zero: Option<&Tensor>,
    axis: i64,
    dtype: ElemType,
) -> Result<Tensor, String> {
    let s = scale.to_f32();
    let z = zero.map(Tensor::to_i64).unwrap_or_else(|| vec![0; s.len()]);
    let (lo, hi) = match dtype {
        ElemType::I8 => (-128, 127),
        ElemType::U8 => (0, 255),
        ElemType::I16 => (-32768, 32767),
        ElemType::U16 => (0, 65535),
        other => return Err(format!("QuantizeLinear to {other} is not supported")),
    };
    let at = param_index(&x.shape, axis, s.len())?;
    let v = x.to_f32();
    let q = v
        .iter()
        .enumerate()
        .map(|(i, &f)| ((f / s[at(i)]).round_ties_even() as i64 + z[at(i)]).clamp(lo, hi))
        .collect();
    Ok(Tensor::int(dtype, x.shape.clone(), q))
}

fn pad(x: &Tensor, pads: &[i64], value: f32, shape: Vec<usize>) -> Tensor {
    let rank = x.shape.len();
    let n: usize = shape.iter().product();
    let mut out: Vec<Option<usize>> = vec![None; n];
    let out_strides = Tensor::strides(&shape);
    let mut k = 0;
    for_each_index(&x.shape, |i| {
        let at: usize = (0..rank)
            .map(|d| (i[d] + pads[d] as usize) * out_strides[d])
            .sum();
        out[at] = Some(k);
        k += 1;
    });
    match &x.data {
        TensorData::Float(v) => Tensor::f32(
            shape,
            out.iter().map(|o| o.map_or(value, |i| v[i])).collect(),
        ),
        TensorData::Int(v) => Tensor::int(
            x.dtype,
            shape,
            out.iter()
                .map(|o| o.map_or(value as i64, |i| v[i]))
                .collect(),
        ),
    }
}
