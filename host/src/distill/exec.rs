//! Running one of the student's steps in candle on its input tensors.

use super::build::Step;
use super::layers;
use candle_core::Tensor;
use whittle_runtime::format::{Activation, BinaryKind, PoolKind, UnaryKind};

fn input(inputs: &[Option<Tensor>], i: usize) -> candle_core::Result<&Tensor> {
    inputs
        .get(i)
        .and_then(Option::as_ref)
        .ok_or_else(|| candle_core::Error::Msg(format!("input {i} is missing")))
}

fn activation(y: Tensor, act: Activation) -> candle_core::Result<Tensor> {
    match act {
        Activation::None => Ok(y),
        Activation::Relu => y.relu(),
        Activation::Clip { min, max } => layers::clip(&y, min, max),
    }
}

/// Runs one step.
pub(crate) fn run(step: &Step, inputs: &[Option<Tensor>]) -> candle_core::Result<Tensor> {
    let x = input(inputs, 0)?;
    match step {
        Step::Conv { window, group } => {
            let b = inputs.get(2).and_then(Option::as_ref);
            layers::conv(x, input(inputs, 1)?, b, window, *group)
        }
        Step::Gemm {
            alpha,
            beta,
            trans_b,
        } => {
            let b = input(inputs, 1)?;
            let b = if *trans_b { b.t()? } else { b.clone() };
            let mut y = x.matmul(&b)?;
            if *alpha != 1.0 {
                y = (y * *alpha as f64)?;
            }
            if let Some(c) = inputs.get(2).and_then(Option::as_ref) {
                let c = if *beta != 1.0 {
                    (c * *beta as f64)?
                } else {
                    c.clone()
                };
                y = y.broadcast_add(&c)?;
            }
            Ok(y)
        }
        Step::MatMul => x.broadcast_matmul(input(inputs, 1)?),
        Step::Binary(kind, act) => {
            let b = input(inputs, 1)?;
            let y = match kind {
                BinaryKind::Add => x.broadcast_add(b)?,
                BinaryKind::Sub => x.broadcast_sub(b)?,
                BinaryKind::Mul => x.broadcast_mul(b)?,
                BinaryKind::Div => x.broadcast_div(b)?,
                BinaryKind::Max => x.broadcast_maximum(b)?,
                BinaryKind::Min => x.broadcast_minimum(b)?,
            };
            activation(y, *act)
        }
        Step::Unary(kind) => match kind {
            UnaryKind::Relu => x.relu(),
            UnaryKind::Clip { min, max } => layers::clip(x, *min, *max),
            UnaryKind::LeakyRelu { alpha } => {
                let neg = (x.clamp(f64::MIN, 0.0)? * *alpha as f64)?;
                x.relu()? + neg
            }
            UnaryKind::Sigmoid => (x.neg()?.exp()? + 1.0)?.recip(),
            UnaryKind::Tanh => x.tanh(),
            other => Err(candle_core::Error::Msg(format!("{other:?} is not trained"))),
        },
        Step::Softmax { axis, log } => layers::softmax(x, *axis, *log),
        Step::MaxPool(w) => layers::max_pool(x, w),
        Step::AvgPool(w, divisor) => {
            let d = Tensor::from_slice(divisor, (1, 1, w.out[0], w.out[1]), x.device())?
                .to_dtype(x.dtype())?;
            layers::avg_pool(x, w, &d)
        }
        Step::GlobalPool(kind) => {
            let dims = x.dims().to_vec();
            let flat = x.flatten_from(2)?;
            let y = match kind {
                PoolKind::Max => layers::max_along(&flat, 2)?,
                PoolKind::Avg { .. } => flat.mean_keepdim(2)?,
            };
            let mut out = dims;
            out[2..].fill(1);
            y.reshape(out)
        }
        Step::BatchNorm { epsilon } => {
            let per_channel = |i: usize| -> candle_core::Result<Tensor> {
                let mut shape = vec![1; x.rank()];
                shape[1] = x.dim(1)?;
                input(inputs, i)?.reshape(shape)
            };
            let (scale, bias, mean, var) = (
                per_channel(1)?,
                per_channel(2)?,
                per_channel(3)?,
                per_channel(4)?,
            );
            let inv = (var + *epsilon as f64)?.sqrt()?.recip()?;
            x.broadcast_sub(&mean)?
                .broadcast_mul(&inv.broadcast_mul(&scale)?)?
                .broadcast_add(&bias)
        }
        Step::Reshape(dims) => {
            let mut shape = vec![x.dim(0)?];
            shape.extend_from_slice(dims);
            x.reshape(shape)
        }
        Step::Transpose(perm) => x.permute(perm.as_slice()),
        Step::Concat(axis) => {
            let n = x.dim(0)?;
            let parts = inputs
                .iter()
                .flatten()
                .map(|t| {
                    // A constant operand has batch 1 in the IR; repeat it over the batch.
                    if t.dim(0)? == n {
                        Ok(t.clone())
                    } else {
                        let mut dims = t.dims().to_vec();
                        dims[0] = n;
                        t.broadcast_as(dims)
                    }
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::cat(&parts, *axis)
        }
        Step::Identity => Ok(x.clone()),
    }
}
