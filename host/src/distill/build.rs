//! From whittle's imported float IR to the steps the student runs: which constants train,
//! resolved window geometry, and a typed refusal for every node the trainer cannot run.

use super::error::DistillError;
use super::layers::{Window2, WindowAttrs, avg_divisor};
use crate::import::shapes::axis;
use crate::ir::{Graph, Node, Op};
use whittle_runtime::format::{Activation, BinaryKind, PoolKind, UnaryKind};

/// What one node computes, with its attributes resolved for the trainer.
#[derive(Debug, Clone)]
pub enum Step {
    /// Convolution (1-D or 2-D, any groups).
    Conv {
        /// Geometry.
        window: Window2,
        /// Channel groups.
        group: usize,
    },
    /// `alpha * A @ B' + beta * C`.
    Gemm {
        /// Scale of the product.
        alpha: f32,
        /// Scale of `C`.
        beta: f32,
        /// Transpose `B`.
        trans_b: bool,
    },
    /// NumPy matrix product.
    MatMul,
    /// Element-wise binary with broadcasting.
    Binary(BinaryKind, Activation),
    /// Element-wise activation.
    Unary(UnaryKind),
    /// Softmax / LogSoftmax along an axis.
    Softmax {
        /// Axis.
        axis: usize,
        /// LogSoftmax.
        log: bool,
    },
    /// Max pooling.
    MaxPool(Window2),
    /// Average pooling with its per-window divisors.
    AvgPool(Window2, Vec<f32>),
    /// Global pooling over the spatial axes.
    GlobalPool(PoolKind),
    /// BatchNormalization in inference mode (running statistics stay).
    BatchNorm {
        /// Added to the variance.
        epsilon: f32,
    },
    /// Reshape to `[batch, dims...]`.
    Reshape(Vec<usize>),
    /// Axis permutation (the batch axis stays first).
    Transpose(Vec<usize>),
    /// Concatenation along a non-batch axis.
    Concat(usize),
    /// Passes its input on.
    Identity,
}

fn unsupported(g: &Graph, node: &Node, reason: impl Into<String>) -> DistillError {
    DistillError::Unsupported {
        node: node.name.clone(),
        op: node.op_type.clone(),
        shapes: input_shapes(g, node),
        reason: reason.into(),
    }
}

/// The IR input shapes of `node`, for messages.
pub fn input_shapes(g: &Graph, node: &Node) -> String {
    let shapes: Vec<String> = node
        .inputs
        .iter()
        .map(|i| match i {
            Some(i) => format!("{:?}", g.shape(*i)),
            None => "-".into(),
        })
        .collect();
    format!("[{}]", shapes.join(", "))
}

/// Whether input `index` of `node` is a weight the trainer updates (when it is constant).
pub fn trains(g: &Graph, producers: &[Option<usize>], node: &Node, index: usize) -> bool {
    match &node.op {
        Op::Conv(_) | Op::Gemm(_) => index == 1 || index == 2,
        Op::MatMul => true,
        Op::BatchNorm { .. } => index == 1 || index == 2,
        // The bias of a MatMul (or a Conv/Gemm without one): the Add right after it.
        Op::Binary {
            kind: BinaryKind::Add | BinaryKind::Sub,
            ..
        } => node.inputs.iter().flatten().any(|&i| {
            producers[i]
                .is_some_and(|p| matches!(g.nodes[p].op, Op::MatMul | Op::Gemm(_) | Op::Conv(_)))
        }),
        _ => false,
    }
}

fn window(
    g: &Graph,
    node: &Node,
    attrs: WindowAttrs<'_>,
    same_axes: bool,
) -> Result<Window2, DistillError> {
    let w = Window2::new(&attrs).map_err(|r| unsupported(g, node, r))?;
    // candle's conv2d takes one stride and dilation for both axes.
    if same_axes && w.spatial == 2 && (w.stride[0] != w.stride[1] || w.dilation[0] != w.dilation[1])
    {
        return Err(unsupported(
            g,
            node,
            format!(
                "strides {:?} and dilations {:?} differ between the axes; the trainer needs them equal",
                w.stride, w.dilation
            ),
        ));
    }
    Ok(w)
}

/// The step for `node`, or why it cannot be trained.
pub fn step(g: &Graph, node: &Node) -> Result<Step, DistillError> {
    let x = node
        .input(0)
        .map(|i| g.shape(i).to_vec())
        .unwrap_or_default();
    let out = node
        .outputs
        .first()
        .map(|&o| g.shape(o).to_vec())
        .unwrap_or_default();
    let err = |r: &str| unsupported(g, node, r);
    let batch_axis = |a: usize| {
        if a == 0 {
            Err(err(
                "it works across the batch axis; the trainer batches samples on axis 0",
            ))
        } else {
            Ok(a)
        }
    };
    Ok(match &node.op {
        Op::Conv(a) => {
            let w = node
                .input(1)
                .map(|i| g.shape(i).to_vec())
                .unwrap_or_default();
            if x.len() < 3 || w.len() != x.len() {
                return Err(err(
                    "the input and weights must be [N, C, spatial...] and [O, C/group, kernel...]",
                ));
            }
            let kernel = a.kernel_shape.clone().unwrap_or_else(|| w[2..].to_vec());
            let attrs = WindowAttrs {
                input: &x[2..],
                kernel: &kernel,
                strides: a.strides.as_deref(),
                dilations: a.dilations.as_deref(),
                pads: a.pads.as_deref(),
                auto_pad: a.auto_pad,
                ceil_mode: false,
            };
            if a.act != Activation::None {
                return Err(err(
                    "a fused activation (run the trainer on the source model)",
                ));
            }
            Step::Conv {
                window: window(g, node, attrs, true)?,
                group: a.group,
            }
        }
        Op::Pool(a) => {
            let attrs = WindowAttrs {
                input: x.get(2..).unwrap_or(&[]),
                kernel: &a.kernel_shape,
                strides: a.strides.as_deref(),
                dilations: a.dilations.as_deref(),
                pads: a.pads.as_deref(),
                auto_pad: a.auto_pad,
                ceil_mode: a.ceil_mode,
            };
            let w = window(g, node, attrs, false)?;
            match a.kind {
                PoolKind::Max => Step::MaxPool(w),
                PoolKind::Avg { count_include_pad } => {
                    let divisor = avg_divisor(&w, count_include_pad);
                    Step::AvgPool(w, divisor)
                }
            }
        }
        Op::GlobalPool(kind) => Step::GlobalPool(*kind),
        Op::Gemm(a) => {
            if a.trans_a {
                return Err(err("transA = 1 (the batch must be the rows of A)"));
            }
            if a.act != Activation::None {
                return Err(err(
                    "a fused activation (run the trainer on the source model)",
                ));
            }
            Step::Gemm {
                alpha: a.alpha,
                beta: a.beta,
                trans_b: a.trans_b,
            }
        }
        Op::MatMul => {
            if x.len() < 2 {
                return Err(err("a 1-D left operand has no batch axis"));
            }
            Step::MatMul
        }
        Op::Binary { kind, act } => Step::Binary(*kind, *act),
        Op::Unary(kind) => match kind {
            UnaryKind::Relu
            | UnaryKind::Clip { .. }
            | UnaryKind::LeakyRelu { .. }
            | UnaryKind::Sigmoid
            | UnaryKind::Tanh => Step::Unary(*kind),
            other => return Err(err(&format!("activation {other:?} is not trained yet"))),
        },
        Op::Softmax {
            axis: a,
            log,
            coerce_2d,
        } => {
            if *coerce_2d {
                return Err(err("a softmax over several flattened axes (opset < 13)"));
            }
            Step::Softmax {
                axis: batch_axis(*a as usize)?,
                log: *log,
            }
        }
        Op::BatchNorm { epsilon } => Step::BatchNorm { epsilon: *epsilon },
        Op::Reshape { .. } => {
            if x.first() != out.first() || out.is_empty() {
                return Err(err(&format!(
                    "reshaping {x:?} to {out:?} changes the batch axis; the trainer batches samples on axis 0"
                )));
            }
            Step::Reshape(out[1..].to_vec())
        }
        Op::Transpose { perm } => {
            let perm = perm.clone().unwrap_or_else(|| (0..x.len()).rev().collect());
            if perm.first() != Some(&0) {
                return Err(err(&format!("permutation {perm:?} moves the batch axis")));
            }
            Step::Transpose(perm)
        }
        Op::Concat { axis: a } => {
            let a = axis(*a, x.len()).map_err(|r| err(&r))?;
            Step::Concat(batch_axis(a)?)
        }
        Op::Identity => Step::Identity,
        _ => return Err(err("the trainer does not support this operator")),
    })
}
