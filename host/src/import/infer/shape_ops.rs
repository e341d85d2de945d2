//! Inference of shape-changing operators: matrix products, reshapes, padding, slicing.

use super::{Ctx, Inferred, same};
use crate::import::shapes::{axis, broadcast, checked_product, clamp_slice};
use crate::ir::{Op, SliceAttrs};
use crate::tensor::Tensor;
use whittle_runtime::format::MAX_RANK;

/// NumPy `matmul` output shape.
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    if a.is_empty() || b.is_empty() {
        return Err("MatMul operands must have rank >= 1".into());
    }
    let a2: Vec<usize> = if a.len() == 1 {
        vec![1, a[0]]
    } else {
        a.to_vec()
    };
    let b2: Vec<usize> = if b.len() == 1 {
        vec![b[0], 1]
    } else {
        b.to_vec()
    };
    let (m, k) = (a2[a2.len() - 2], a2[a2.len() - 1]);
    let (kb, n) = (b2[b2.len() - 2], b2[b2.len() - 1]);
    if k != kb {
        return Err(format!("MatMul inner dimensions differ: {a:?} x {b:?}"));
    }
    let batch = broadcast(&a2[..a2.len() - 2], &b2[..b2.len() - 2])?;
    let mut out = batch;
    if a.len() > 1 {
        out.push(m);
    }
    if b.len() > 1 {
        out.push(n);
    }
    if out.len() > MAX_RANK {
        return Err(format!(
            "MatMul result of rank {} exceeds {MAX_RANK}",
            out.len()
        ));
    }
    Ok(out)
}

/// Resolves `0` and `-1` entries of an ONNX Reshape target.
pub fn resolve_reshape(
    input: &[usize],
    target: &[i64],
    allowzero: bool,
) -> Result<Vec<usize>, String> {
    let total: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(
                *input
                    .get(i)
                    .ok_or_else(|| format!("shape {target:?} copies missing axis {i}"))?,
            ),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(format!("invalid reshape target {target:?}")),
        }
    }
    if let Some(i) = infer_at {
        let known = checked_product(&out).unwrap_or(0);
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    Ok(out)
}

pub(super) fn pad(
    c: &Ctx<'_>,
    attr_pads: Option<&[i64]>,
    attr_value: f32,
) -> Result<Inferred, String> {
    let x = c.shape(0)?;
    let rank = x.len();
    let (pads, value) = match attr_pads {
        Some(p) => (p.to_vec(), attr_value),
        None => {
            let raw = c.konst(1, "pads")?.to_i64();
            let value = match c.opt_konst(2, "constant_value")? {
                Some(t) if t.len() == 1 => t.to_f32()[0],
                Some(_) => return Err("Pad constant_value must be a scalar".into()),
                None => 0.0,
            };
            let pads = match c.opt_konst(3, "axes")? {
                None => raw,
                Some(axes) => {
                    let axes = axes
                        .to_i64()
                        .iter()
                        .map(|&a| axis(a, rank))
                        .collect::<Result<Vec<_>, _>>()?;
                    if raw.len() != 2 * axes.len() {
                        return Err(format!(
                            "Pad has {} pads for {} axes",
                            raw.len(),
                            axes.len()
                        ));
                    }
                    let mut full = vec![0; 2 * rank];
                    for (i, &a) in axes.iter().enumerate() {
                        full[a] = raw[i];
                        full[rank + a] = raw[axes.len() + i];
                    }
                    full
                }
            };
            (pads, value)
        }
    };
    if pads.len() != 2 * rank {
        return Err(format!(
            "Pad needs {} pads for rank {rank}, got {}",
            2 * rank,
            pads.len()
        ));
    }
    if pads.iter().any(|&p| p < 0) {
        return Err(format!(
            "negative pads {pads:?} (cropping) are not supported"
        ));
    }
    let out = (0..rank)
        .map(|d| x[d] + pads[d] as usize + pads[rank + d] as usize)
        .collect();
    same(
        Op::Pad {
            pads: Some(pads),
            value,
        },
        c.first_only(),
        c.dtype(0)?,
        out,
    )
}

pub(super) fn slice(c: &Ctx<'_>, attrs: Option<&SliceAttrs>) -> Result<Inferred, String> {
    let x = c.shape(0)?;
    let (starts, ends, axes, steps) = match attrs {
        Some(a) => (a.starts.clone(), a.ends.clone(), a.axes.clone(), None),
        None => (
            c.konst(1, "starts")?.to_i64(),
            c.konst(2, "ends")?.to_i64(),
            c.opt_konst(3, "axes")?.map(Tensor::to_i64),
            c.opt_konst(4, "steps")?.map(Tensor::to_i64),
        ),
    };
    if steps.as_ref().is_some_and(|s| s.iter().any(|&v| v != 1)) {
        return Err(format!(
            "Slice steps {:?} are not supported (only 1)",
            steps.unwrap_or_default()
        ));
    }
    let axes: Vec<i64> = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    if starts.len() != ends.len() || starts.len() != axes.len() {
        return Err("Slice starts, ends and axes differ in length".into());
    }
    let mut out = x.to_vec();
    let mut norm = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..axes.len() {
        let a = axis(axes[i], x.len())?;
        let (s, e) = clamp_slice(starts[i], ends[i], x[a]);
        out[a] = e - s;
        norm.0.push(s as i64);
        norm.1.push(e as i64);
        norm.2.push(a as i64);
    }
    let op = Op::Slice {
        attrs: Some(SliceAttrs {
            starts: norm.0,
            ends: norm.1,
            axes: Some(norm.2),
        }),
    };
    same(op, c.first_only(), c.dtype(0)?, out)
}
