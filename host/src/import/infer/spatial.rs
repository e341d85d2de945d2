//! Inference of windowed operators (convolution, pooling): padding and output sizes.

use super::{Ctx, Inferred, same};
use crate::ir::geometry::{AutoPad, window};
use crate::ir::{ConvAttrs, Op, PoolAttrs};

fn spatial_params(
    v: &Option<Vec<usize>>,
    n: usize,
    default: usize,
    what: &str,
) -> Result<Vec<usize>, String> {
    match v {
        None => Ok(vec![default; n]),
        Some(v) if v.len() == n => Ok(v.clone()),
        Some(v) => Err(format!("{what} {v:?} must have {n} values")),
    }
}

fn resolve_windows(
    spatial: &[usize],
    kernel: &[usize],
    strides: &[usize],
    dilations: &[usize],
    pads: &Option<Vec<usize>>,
    auto_pad: AutoPad,
    ceil_mode: bool,
) -> Result<(Vec<usize>, Vec<usize>), String> {
    let n = spatial.len();
    let pads = spatial_params(pads, 2 * n, 0, "pads")?;
    let mut begins = Vec::with_capacity(n);
    let mut ends = Vec::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let w = window(
            spatial[i],
            kernel[i],
            strides[i],
            dilations[i],
            auto_pad,
            (pads[i], pads[n + i]),
            ceil_mode,
        )?;
        begins.push(w.pad_begin);
        ends.push(w.pad_end);
        out.push(w.out);
    }
    Ok((out, [begins, ends].concat()))
}

pub(super) fn conv(c: &Ctx<'_>, attrs: &ConvAttrs) -> Result<Inferred, String> {
    let (x, w) = (c.shape(0)?, c.shape(1)?);
    if x.len() != w.len() || !(3..=4).contains(&x.len()) {
        return Err(format!(
            "only 1-D and 2-D convolutions are supported (input {x:?}, weights {w:?})"
        ));
    }
    let n = x.len() - 2;
    let kernel = &w[2..];
    if let Some(k) = &attrs.kernel_shape
        && k.as_slice() != kernel
    {
        return Err(format!("kernel_shape {k:?} differs from weights {w:?}"));
    }
    if x[1] != w[1] * attrs.group || w[0] % attrs.group != 0 {
        return Err(format!(
            "channels do not match groups: input {x:?}, weights {w:?}, group {}",
            attrs.group
        ));
    }
    if let Some(b) = c.node.input(2)
        && c.graph.shape(b) != [w[0]]
    {
        return Err(format!(
            "bias of shape {:?} for {} output channels",
            c.graph.shape(b),
            w[0]
        ));
    }
    let strides = spatial_params(&attrs.strides, n, 1, "strides")?;
    let dilations = spatial_params(&attrs.dilations, n, 1, "dilations")?;
    let (spatial_out, pads) = resolve_windows(
        &x[2..],
        kernel,
        &strides,
        &dilations,
        &attrs.pads,
        attrs.auto_pad,
        false,
    )?;
    let op = Op::Conv(ConvAttrs {
        kernel_shape: Some(kernel.to_vec()),
        strides: Some(strides),
        dilations: Some(dilations),
        pads: Some(pads),
        auto_pad: AutoPad::NotSet,
        ..attrs.clone()
    });
    same(
        op,
        c.node.inputs.clone(),
        c.dtype(0)?,
        [&[x[0], w[0]], spatial_out.as_slice()].concat(),
    )
}

pub(super) fn pool(c: &Ctx<'_>, attrs: &PoolAttrs) -> Result<Inferred, String> {
    let x = c.shape(0)?;
    if !(3..=4).contains(&x.len()) || attrs.kernel_shape.len() != x.len() - 2 {
        return Err(format!(
            "only 1-D and 2-D pooling is supported (input {x:?}, kernel {:?})",
            attrs.kernel_shape
        ));
    }
    let n = x.len() - 2;
    let strides = spatial_params(&attrs.strides, n, 1, "strides")?;
    let dilations = spatial_params(&attrs.dilations, n, 1, "dilations")?;
    let (spatial_out, pads) = resolve_windows(
        &x[2..],
        &attrs.kernel_shape,
        &strides,
        &dilations,
        &attrs.pads,
        attrs.auto_pad,
        attrs.ceil_mode,
    )?;
    let op = Op::Pool(PoolAttrs {
        strides: Some(strides),
        dilations: Some(dilations),
        pads: Some(pads),
        auto_pad: AutoPad::NotSet,
        ..attrs.clone()
    });
    same(
        op,
        c.first_only(),
        c.dtype(0)?,
        [&x[..2], spatial_out.as_slice()].concat(),
    )
}
