//! Static shape inference, and normalization of operators whose parameters arrive as constant
//! inputs (Reshape, Squeeze, Pad, Slice, Clip ...) into their attribute form.

mod shape_ops;
mod spatial;

pub use shape_ops::{matmul_shape, resolve_reshape};

use super::shapes::{axis, broadcast, checked_product};
use crate::ir::{Graph, Node, Op, ValueId};
use crate::tensor::{ElemType, Tensor};
use shape_ops::{pad, slice};
use spatial::{conv, pool};
use whittle_runtime::format::UnaryKind;

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
