//! Static shape inference, and normalization of operators whose parameters arrive as constant
//! inputs (Reshape, Squeeze, Pad, Slice, Clip ...) into their attribute form.

use super::shapes::{axis, broadcast, checked_product, clamp_slice};
use crate::ir::geometry::{AutoPad, window};
use crate::ir::{ConvAttrs, Graph, Node, Op, PoolAttrs, SliceAttrs, ValueId};
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::format::{MAX_RANK, UnaryKind};

/// The result of inferring one node.
pub struct Inferred {
    /// The operator, normalized.
    pub op: Op,
    /// The inputs it still reads (constant parameters consumed by normalization are dropped).
    pub inputs: Vec<Option<ValueId>>,
    /// Element type and shape of each output.
    pub outputs: Vec<(ElemType, Vec<usize>)>,
    /// Outputs known without evaluation (`Shape`, `Size`).
    pub consts: Option<Vec<Tensor>>,
}

struct Ctx<'a> {
    node: &'a Node,
    graph: &'a Graph,
}

impl<'a> Ctx<'a> {
    fn id(&self, i: usize) -> Result<ValueId, String> {
        self.node
            .input(i)
            .ok_or_else(|| format!("input {i} is required"))
    }
    fn shape(&self, i: usize) -> Result<&'a [usize], String> {
        Ok(self.graph.shape(self.id(i)?))
    }
    fn dtype(&self, i: usize) -> Result<ElemType, String> {
        Ok(self.graph.values[self.id(i)?].dtype)
    }
    fn konst(&self, i: usize, what: &str) -> Result<&'a Tensor, String> {
        let id = self.id(i)?;
        self.graph.konst(id).ok_or_else(|| {
            format!(
                "input {i} ('{}', the {what}) must be a constant",
                self.graph.values[id].name
            )
        })
    }
    fn opt_konst(&self, i: usize, what: &str) -> Result<Option<&'a Tensor>, String> {
        match self.node.input(i) {
            None => Ok(None),
            Some(_) => self.konst(i, what).map(Some),
        }
    }
    fn first_only(&self) -> Vec<Option<ValueId>> {
        vec![self.node.input(0)]
    }
}

fn same(
    op: Op,
    inputs: Vec<Option<ValueId>>,
    dtype: ElemType,
    shape: Vec<usize>,
) -> Result<Inferred, String> {
    Ok(Inferred {
        op,
        inputs,
        outputs: vec![(dtype, shape)],
        consts: None,
    })
}

fn reshape_to(c: &Ctx<'_>, shape: Vec<usize>) -> Result<Inferred, String> {
    let input = c.shape(0)?;
    if Some(input.iter().product::<usize>()) != checked_product(&shape) {
        return Err(format!("cannot reshape {input:?} to {shape:?}"));
    }
    same(
        Op::Reshape { allowzero: false },
        c.first_only(),
        c.dtype(0)?,
        shape,
    )
}

/// Infers output types and shapes of `node` from its inputs.
pub fn infer(node: &Node, graph: &Graph) -> Result<Inferred, String> {
    let c = Ctx { node, graph };
    let all_inputs = node.inputs.clone();
    match &node.op {
        Op::Conv(attrs) => conv(&c, attrs),
        Op::Pool(attrs) => pool(&c, attrs),
        Op::Gemm(attrs) => {
            let (a, b) = (c.shape(0)?, c.shape(1)?);
            if a.len() != 2 || b.len() != 2 {
                return Err(format!("Gemm needs 2-D inputs, got {a:?} and {b:?}"));
            }
            let (m, k) = if attrs.trans_a {
                (a[1], a[0])
            } else {
                (a[0], a[1])
            };
            let (kb, n) = if attrs.trans_b {
                (b[1], b[0])
            } else {
                (b[0], b[1])
            };
            if k != kb {
                return Err(format!("Gemm inner dimensions differ: {a:?} x {b:?}"));
            }
            if let Some(cid) = node.input(2) {
                let cs = graph.shape(cid);
                if broadcast(cs, &[m, n])? != [m, n] {
                    return Err(format!(
                        "Gemm C of shape {cs:?} does not broadcast to [{m}, {n}]"
                    ));
                }
            }
            same(node.op.clone(), all_inputs, c.dtype(0)?, vec![m, n])
        }
        Op::MatMul => {
            let out = matmul_shape(c.shape(0)?, c.shape(1)?)?;
            same(Op::MatMul, all_inputs, c.dtype(0)?, out)
        }
        Op::Binary { .. } => {
            // Max and Min are variadic; the passes split them into a chain of pairs.
            c.shape(1)?;
            let mut out = c.shape(0)?.to_vec();
            for i in 1..node.inputs.len() {
                if c.dtype(i)? != c.dtype(0)? {
                    return Err(format!(
                        "operand types differ: {} and {}",
                        c.dtype(0)?,
                        c.dtype(i)?
                    ));
                }
                out = broadcast(&out, c.shape(i)?)?;
            }
            same(node.op.clone(), all_inputs, c.dtype(0)?, out)
        }
        Op::Identity if node.op_type == "Dropout" => {
            if let Some(t) = c.opt_konst(2, "training_mode")?
                && t.to_i64().first().is_some_and(|&v| v != 0)
            {
                return Err("Dropout in training mode is not supported (it is random)".into());
            }
            same(
                Op::Identity,
                c.first_only(),
                c.dtype(0)?,
                c.shape(0)?.to_vec(),
            )
        }
        Op::Unary(_) | Op::Identity => same(
            node.op.clone(),
            c.first_only(),
            c.dtype(0)?,
            c.shape(0)?.to_vec(),
        ),
        Op::Clip { min, max } => {
            let bound =
                |i: usize, what: &str, attr: Option<f32>, default: f32| -> Result<f32, String> {
                    match c.opt_konst(i, what)? {
                        Some(t) if t.len() == 1 => Ok(t.to_f32()[0]),
                        Some(_) => Err(format!("Clip {what} must be a scalar")),
                        None => Ok(attr.unwrap_or(default)),
                    }
                };
            let min = bound(1, "min", *min, f32::NEG_INFINITY)?;
            let max = bound(2, "max", *max, f32::INFINITY)?;
            let op = if min == 0.0 && max == f32::INFINITY {
                UnaryKind::Relu
            } else {
                UnaryKind::Clip { min, max }
            };
            same(
                Op::Unary(op),
                c.first_only(),
                c.dtype(0)?,
                c.shape(0)?.to_vec(),
            )
        }
        Op::Softmax {
            axis: ax,
            log,
            coerce_2d,
        } => {
            let shape = c.shape(0)?;
            let ax = axis(*ax, shape.len())?;
            // Before opset 13 the input is flattened at `axis`; that equals a single-axis
            // softmax only when the axis is the last one.
            let coerce =
                *coerce_2d && ax + 1 < shape.len() && shape[ax + 1..].iter().any(|&d| d != 1);
            let op = Op::Softmax {
                axis: ax as i64,
                log: *log,
                coerce_2d: coerce,
            };
            same(op, c.first_only(), c.dtype(0)?, shape.to_vec())
        }
        Op::GlobalPool(_) => {
            let shape = c.shape(0)?;
            if shape.len() < 3 {
                return Err(format!(
                    "global pooling needs [N, C, spatial...], got {shape:?}"
                ));
            }
            let mut out = shape.to_vec();
            out[2..].fill(1);
            same(node.op.clone(), c.first_only(), c.dtype(0)?, out)
        }
        Op::BatchNorm { .. } => {
            let shape = c.shape(0)?;
            if shape.len() < 2 {
                return Err(format!(
                    "BatchNormalization needs [N, C, ...], got {shape:?}"
                ));
            }
            for (i, what) in [(1, "scale"), (2, "bias"), (3, "mean"), (4, "variance")] {
                let t = c.konst(i, what)?;
                if t.len() != shape[1] {
                    return Err(format!(
                        "BatchNormalization {what} has {} elements for {} channels",
                        t.len(),
                        shape[1]
                    ));
                }
            }
            same(node.op.clone(), all_inputs, c.dtype(0)?, shape.to_vec())
        }
        Op::Reshape { allowzero } => {
            let input = c.shape(0)?;
            let target = c.konst(1, "shape")?.to_i64();
            reshape_to(&c, resolve_reshape(input, &target, *allowzero)?)
        }
        Op::Flatten { axis: ax } => {
            let input = c.shape(0)?;
            let ax = if *ax < 0 {
                *ax + input.len() as i64
            } else {
                *ax
            };
            if ax < 0 || ax as usize > input.len() {
                return Err(format!(
                    "Flatten axis {ax} out of range for rank {}",
                    input.len()
                ));
            }
            let ax = ax as usize;
            reshape_to(
                &c,
                vec![input[..ax].iter().product(), input[ax..].iter().product()],
            )
        }
        Op::Squeeze { axes } => {
            let input = c.shape(0)?;
            let axes = match axes {
                Some(a) => Some(a.clone()),
                None => c.opt_konst(1, "axes")?.map(Tensor::to_i64),
            };
            let out: Vec<usize> = match axes {
                None => input.iter().copied().filter(|&d| d != 1).collect(),
                Some(axes) => {
                    let axes = axes
                        .iter()
                        .map(|&a| axis(a, input.len()))
                        .collect::<Result<Vec<_>, _>>()?;
                    if let Some(&bad) = axes.iter().find(|&&a| input[a] != 1) {
                        return Err(format!("cannot squeeze axis {bad} of size {}", input[bad]));
                    }
                    input
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !axes.contains(i))
                        .map(|(_, &d)| d)
                        .collect()
                }
            };
            reshape_to(&c, out)
        }
        Op::Unsqueeze { axes } => {
            let input = c.shape(0)?;
            let axes = match axes {
                Some(a) => a.clone(),
                None => c.konst(1, "axes")?.to_i64(),
            };
            let rank = input.len() + axes.len();
            let axes = axes
                .iter()
                .map(|&a| axis(a, rank))
                .collect::<Result<Vec<_>, _>>()?;
            let mut rest = input.iter();
            let out = (0..rank)
                .map(|i| {
                    if axes.contains(&i) {
                        Some(1)
                    } else {
                        rest.next().copied()
                    }
                })
                .collect::<Option<Vec<_>>>();
            reshape_to(&c, out.ok_or("Unsqueeze axes repeat")?)
        }
        Op::Transpose { perm } => {
            let input = c.shape(0)?;
            let perm = perm
                .clone()
                .unwrap_or_else(|| (0..input.len()).rev().collect());
            let mut sorted = perm.clone();
            sorted.sort_unstable();
            if sorted != (0..input.len()).collect::<Vec<_>>() {
                return Err(format!(
                    "perm {perm:?} is not a permutation of rank {}",
                    input.len()
                ));
            }
            let out = perm.iter().map(|&p| input[p]).collect();
            same(
                Op::Transpose { perm: Some(perm) },
                c.first_only(),
                c.dtype(0)?,
                out,
            )
        }
        Op::Concat { axis: ax } => {
            let first = c.shape(0)?;
            let ax = axis(*ax, first.len())?;
            let mut out = first.to_vec();
            out[ax] = 0;
            for i in 0..node.inputs.len() {
                let s = c.shape(i)?;
                let matches = s.len() == first.len()
                    && s.iter()
                        .zip(first)
                        .enumerate()
                        .all(|(d, (a, b))| d == ax || a == b);
                if !matches {
                    return Err(format!(
                        "Concat inputs {first:?} and {s:?} differ off axis {ax}"
                    ));
                }
                out[ax] += s[ax];
            }
            same(Op::Concat { axis: ax as i64 }, all_inputs, c.dtype(0)?, out)
        }
        Op::Pad { pads, value } => pad(&c, pads.as_deref(), *value),
        Op::Slice { attrs } => slice(&c, attrs.as_ref()),
        Op::Split { axis: ax, split } => {
            let input = c.shape(0)?;
            let ax = axis(*ax, input.len())?;
            let parts = node.outputs.len();
            let sizes: Vec<i64> = match split {
                Some(s) => s.clone(),
                None => match c.opt_konst(1, "split")? {
                    Some(t) => t.to_i64(),
                    None => {
                        let chunk = input[ax].div_ceil(parts.max(1)) as i64;
                        (0..parts as i64)
                            .map(|i| chunk.min(input[ax] as i64 - i * chunk).max(0))
                            .collect()
                    }
                },
            };
            if sizes.len() != parts
                || sizes.iter().any(|&s| s < 0)
                || sizes.iter().sum::<i64>() != input[ax] as i64
            {
                return Err(format!(
                    "Split sizes {sizes:?} do not divide axis {ax} of {input:?} into {parts} parts"
                ));
            }
            let outputs = sizes
                .iter()
                .map(|&s| {
                    let mut shape = input.to_vec();
                    shape[ax] = s as usize;
                    (c.dtype(0).unwrap_or(ElemType::F32), shape)
                })
                .collect();
            Ok(Inferred {
                op: Op::Split {
                    axis: ax as i64,
                    split: Some(sizes),
                },
                inputs: c.first_only(),
                outputs,
                consts: None,
            })
        }
        Op::Dequantize { .. } => same(
            node.op.clone(),
            all_inputs,
            ElemType::F32,
            c.shape(0)?.to_vec(),
        ),
        Op::Quantize { .. } => {
            let dtype = match node.input(2) {
                Some(zp) => graph.values[zp].dtype,
                None => ElemType::U8,
            };
            same(node.op.clone(), all_inputs, dtype, c.shape(0)?.to_vec())
        }
        Op::Shape { start, end } => {
            let shape = c.shape(0)?;
            let rank = shape.len() as i64;
            let clamp = |v: i64| (if v < 0 { v + rank } else { v }).clamp(0, rank) as usize;
            let (s, e) = (clamp(*start), clamp(end.unwrap_or(rank)));
            let dims: Vec<i64> = shape[s..e.max(s)].iter().map(|&d| d as i64).collect();
            let t = Tensor::i64_vec(dims);
            Ok(Inferred {
                op: node.op.clone(),
                inputs: all_inputs,
                outputs: vec![(ElemType::I64, t.shape.clone())],
                consts: Some(vec![t]),
            })
        }
        Op::Size => {
            let t = Tensor::int(
                ElemType::I64,
                vec![],
                vec![c.shape(0)?.iter().product::<usize>() as i64],
            );
            Ok(Inferred {
                op: node.op.clone(),
                inputs: all_inputs,
                outputs: vec![(ElemType::I64, vec![])],
                consts: Some(vec![t]),
            })
        }
        Op::Gather { axis: ax } => {
            let (data, indices) = (c.shape(0)?, c.shape(1)?);
            let ax = axis(*ax, data.len())?;
            let out = [&data[..ax], indices, &data[ax + 1..]].concat();
            same(Op::Gather { axis: ax as i64 }, all_inputs, c.dtype(0)?, out)
        }
        Op::Cast { to } => same(node.op.clone(), all_inputs, *to, c.shape(0)?.to_vec()),
        Op::ConstantOfShape { value } => {
            let dims = c.konst(0, "shape")?.to_i64();
            let shape = dims
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
                .collect::<Result<_, _>>()?;
            same(node.op.clone(), all_inputs, value.dtype, shape)
        }
        Op::Range => {
            let v = |i, what| -> Result<f64, String> {
                let t = c.konst(i, what)?;
                t.to_f32()
                    .first()
                    .map(|&x| f64::from(x))
                    .ok_or_else(|| format!("Range {what} is empty"))
            };
            let (start, limit, delta) = (v(0, "start")?, v(1, "limit")?, v(2, "delta")?);
            if delta == 0.0 {
                return Err("Range delta is 0".into());
            }
            let n = ((limit - start) / delta).ceil().max(0.0) as usize;
            same(Op::Range, all_inputs, c.dtype(0)?, vec![n])
        }
        Op::Linear { .. } => Err("Linear is formed after inference".into()),
        Op::Unsupported(reason) => Err(reason.clone()),
    }
}

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

fn conv(c: &Ctx<'_>, attrs: &ConvAttrs) -> Result<Inferred, String> {
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

fn pool(c: &Ctx<'_>, attrs: &PoolAttrs) -> Result<Inferred, String> {
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

fn pad(c: &Ctx<'_>, attr_pads: Option<&[i64]>, attr_value: f32) -> Result<Inferred, String> {
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

fn slice(c: &Ctx<'_>, attrs: Option<&SliceAttrs>) -> Result<Inferred, String> {
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
