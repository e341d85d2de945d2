//! ONNX node -> IR operator: attribute parsing and the list of what is supported.

use crate::ir::geometry::AutoPad;
use crate::ir::{ConvAttrs, GemmAttrs, Op, PoolAttrs, SliceAttrs};
use crate::onnx::attrs::Attrs;
use crate::onnx::pb;
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::format::{Activation, BinaryKind, PoolKind, UnaryKind};

/// ONNX operators that run on the device (possibly after folding or fusion).
pub const RUNTIME_OPS: &[&str] = &[
    "Conv",
    "Gemm",
    "MatMul",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Max",
    "Min",
    "Relu",
    "Clip",
    "LeakyRelu",
    "Sigmoid",
    "Tanh",
    "HardSigmoid",
    "HardSwish",
    "Elu",
    "Exp",
    "Log",
    "Sqrt",
    "Neg",
    "Abs",
    "Reciprocal",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "MaxPool",
    "AveragePool",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "BatchNormalization",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Concat",
    "Pad",
    "Slice",
    "Split",
    "Identity",
    "Dropout",
    "QuantizeLinear",
    "DequantizeLinear",
];

/// ONNX operators accepted only when all their inputs are constants (computed at compile time).
pub const CONSTANT_OPS: &[&str] = &[
    "Constant",
    "Shape",
    "Size",
    "Gather",
    "Cast",
    "ConstantOfShape",
    "Range",
];

/// Parses one node; anything whittle cannot compile becomes [`Op::Unsupported`] with the reason.
pub fn parse_node(node: &pb::NodeProto, opset: i64) -> Op {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return Op::Unsupported(format!(
            "operator domain '{}' is not supported",
            node.domain
        ));
    }
    parse(node, opset).unwrap_or_else(Op::Unsupported)
}

fn unary(kind: UnaryKind) -> Result<Op, String> {
    Ok(Op::Unary(kind))
}

fn parse(node: &pb::NodeProto, opset: i64) -> Result<Op, String> {
    let a = Attrs::new(node);
    let binary = |kind| {
        Ok(Op::Binary {
            kind,
            act: Activation::None,
        })
    };
    match node.op_type.as_str() {
        "Conv" => Ok(Op::Conv(ConvAttrs {
            kernel_shape: a.usizes("kernel_shape")?,
            strides: a.usizes("strides")?,
            dilations: a.usizes("dilations")?,
            pads: a.usizes("pads")?,
            auto_pad: AutoPad::parse(a.string("auto_pad")?.as_deref())?,
            group: positive(a.int("group")?.unwrap_or(1), "group")?,
            act: Activation::None,
        })),
        "Gemm" => Ok(Op::Gemm(GemmAttrs {
            alpha: a.float("alpha")?.unwrap_or(1.0),
            beta: a.float("beta")?.unwrap_or(1.0),
            trans_a: a.int("transA")?.unwrap_or(0) != 0,
            trans_b: a.int("transB")?.unwrap_or(0) != 0,
            act: Activation::None,
        })),
        "MatMul" => Ok(Op::MatMul),
        "Add" | "Sub" | "Mul" | "Div" if node.input.len() != 2 => Err(format!(
            "{} needs 2 inputs, got {}",
            node.op_type,
            node.input.len()
        )),
        "Add" => binary(BinaryKind::Add),
        "Sub" => binary(BinaryKind::Sub),
        "Mul" => binary(BinaryKind::Mul),
        "Div" => binary(BinaryKind::Div),
        "Max" | "Min" => match node.input.len() {
            0 => Err(format!("{} needs at least one input", node.op_type)),
            1 => Ok(Op::Identity),
            _ => binary(if node.op_type == "Max" {
                BinaryKind::Max
            } else {
                BinaryKind::Min
            }),
        },
        "Relu" => unary(UnaryKind::Relu),
        "Sigmoid" => unary(UnaryKind::Sigmoid),
        "Tanh" => unary(UnaryKind::Tanh),
        "HardSwish" => unary(UnaryKind::HardSwish),
        "Exp" => unary(UnaryKind::Exp),
        "Log" => unary(UnaryKind::Log),
        "Sqrt" => unary(UnaryKind::Sqrt),
        "Neg" => unary(UnaryKind::Neg),
        "Abs" => unary(UnaryKind::Abs),
        "Reciprocal" => unary(UnaryKind::Reciprocal),
        "Softplus" => unary(UnaryKind::Softplus),
        "LeakyRelu" => unary(UnaryKind::LeakyRelu {
            alpha: a.float("alpha")?.unwrap_or(0.01),
        }),
        "Elu" => unary(UnaryKind::Elu {
            alpha: a.float("alpha")?.unwrap_or(1.0),
        }),
        "HardSigmoid" => unary(UnaryKind::HardSigmoid {
            alpha: a.float("alpha")?.unwrap_or(0.2),
            beta: a.float("beta")?.unwrap_or(0.5),
        }),
        "Clip" => Ok(if opset < 11 {
            Op::Clip {
                min: Some(a.float("min")?.unwrap_or(f32::MIN)),
                max: Some(a.float("max")?.unwrap_or(f32::MAX)),
            }
        } else {
            Op::Clip {
                min: None,
                max: None,
            }
        }),
        "Softmax" | "LogSoftmax" => Ok(Op::Softmax {
            axis: a.int("axis")?.unwrap_or(if opset < 13 { 1 } else { -1 }),
            log: node.op_type == "LogSoftmax",
            coerce_2d: opset < 13,
        }),
        "MaxPool" | "AveragePool" => pool(node, &a),
        "GlobalAveragePool" => Ok(Op::GlobalPool(PoolKind::Avg {
            count_include_pad: false,
        })),
        "GlobalMaxPool" => Ok(Op::GlobalPool(PoolKind::Max)),
        "BatchNormalization" => {
            if a.int("training_mode")?.unwrap_or(0) != 0 || used_outputs(node) > 1 {
                return Err("BatchNormalization in training mode is not supported".into());
            }
            Ok(Op::BatchNorm {
                epsilon: a.float("epsilon")?.unwrap_or(1e-5),
            })
        }
        "Reshape" => Ok(Op::Reshape {
            allowzero: a.int("allowzero")?.unwrap_or(0) != 0,
        }),
        "Flatten" => Ok(Op::Flatten {
            axis: a.int("axis")?.unwrap_or(1),
        }),
        "Squeeze" => Ok(Op::Squeeze {
            axes: a.ints("axes")?,
        }),
        "Unsqueeze" => Ok(Op::Unsqueeze {
            axes: a.ints("axes")?,
        }),
        "Transpose" => Ok(Op::Transpose {
            perm: a.usizes("perm")?,
        }),
        "Concat" => Ok(Op::Concat {
            axis: a.int("axis")?.ok_or("Concat needs an 'axis' attribute")?,
        }),
        "Pad" => {
            let mode = a.string("mode")?.unwrap_or_else(|| "constant".into());
            if mode != "constant" {
                return Err(format!(
                    "Pad mode '{mode}' is not supported (only 'constant')"
                ));
            }
            Ok(Op::Pad {
                pads: if opset < 11 { a.ints("pads")? } else { None },
                value: a.float("value")?.unwrap_or(0.0),
            })
        }
        "Slice" => {
            let attrs = if opset < 10 {
                let starts = a.ints("starts")?.ok_or("Slice needs 'starts'")?;
                let ends = a.ints("ends")?.ok_or("Slice needs 'ends'")?;
                Some(SliceAttrs {
                    starts,
                    ends,
                    axes: a.ints("axes")?,
                })
            } else {
                None
            };
            Ok(Op::Slice { attrs })
        }
        "Split" => {
            if a.has("num_outputs") && a.int("num_outputs")? != Some(node.output.len() as i64) {
                return Err("Split 'num_outputs' differs from the number of outputs".into());
            }
            Ok(Op::Split {
                axis: a.int("axis")?.unwrap_or(0),
                split: a.ints("split")?,
            })
        }
        "Identity" => Ok(Op::Identity),
        "Dropout" => {
            if used_outputs(node) > 1 {
                return Err("Dropout's mask output is not supported".into());
            }
            Ok(Op::Identity)
        }
        "DequantizeLinear" => Ok(Op::Dequantize {
            axis: a.int("axis")?.unwrap_or(1),
        }),
        "QuantizeLinear" => Ok(Op::Quantize {
            axis: a.int("axis")?.unwrap_or(1),
        }),
        "Shape" => Ok(Op::Shape {
            start: a.int("start")?.unwrap_or(0),
            end: a.int("end")?,
        }),
        "Size" => Ok(Op::Size),
        "Gather" => Ok(Op::Gather {
            axis: a.int("axis")?.unwrap_or(0),
        }),
        "Cast" => {
            let to = ElemType::from_onnx(a.int("to")?.ok_or("Cast needs 'to'")? as i32);
            if let ElemType::Other(code) = to {
                return Err(format!("Cast to ONNX type {code} is not supported"));
            }
            Ok(Op::Cast { to })
        }
        "ConstantOfShape" => Ok(Op::ConstantOfShape {
            value: a
                .tensor("value")?
                .unwrap_or_else(|| Tensor::f32(vec![1], vec![0.0])),
        }),
        "Range" => Ok(Op::Range),
        other => Err(format!("operator '{other}' is not supported")),
    }
}

fn pool(node: &pb::NodeProto, a: &Attrs<'_>) -> Result<Op, String> {
    let kind = if node.op_type == "MaxPool" {
        if a.int("storage_order")?.unwrap_or(0) != 0 {
            return Err("MaxPool with storage_order=1 is not supported".into());
        }
        if used_outputs(node) > 1 {
            return Err("MaxPool's Indices output is not supported".into());
        }
        PoolKind::Max
    } else {
        PoolKind::Avg {
            count_include_pad: a.int("count_include_pad")?.unwrap_or(0) != 0,
        }
    };
    Ok(Op::Pool(PoolAttrs {
        kind,
        kernel_shape: a
            .usizes("kernel_shape")?
            .ok_or("pooling needs 'kernel_shape'")?,
        strides: a.usizes("strides")?,
        dilations: a.usizes("dilations")?,
        pads: a.usizes("pads")?,
        auto_pad: AutoPad::parse(a.string("auto_pad")?.as_deref())?,
        ceil_mode: a.int("ceil_mode")?.unwrap_or(0) != 0,
    }))
}

fn positive(v: i64, name: &str) -> Result<usize, String> {
    usize::try_from(v)
        .ok()
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("'{name}' must be positive, got {v}"))
}

/// Number of outputs with a name (optional outputs may be omitted with "").
fn used_outputs(node: &pb::NodeProto) -> usize {
    node.output.iter().filter(|o| !o.is_empty()).count()
}

/// Decodes a `Constant` node's value.
pub fn constant_value(node: &pb::NodeProto) -> Result<Tensor, String> {
    let a = Attrs::new(node);
    if let Some(t) = a.tensor("value")? {
        return Ok(t);
    }
    if let Some(f) = a.float("value_float")? {
        return Ok(Tensor::f32(vec![], vec![f]));
    }
    if let Some(v) = a.floats("value_floats")? {
        return Ok(Tensor::f32(vec![v.len()], v));
    }
    if let Some(i) = a.int("value_int")? {
        return Ok(Tensor::int(ElemType::I64, vec![], vec![i]));
    }
    if let Some(v) = a.ints("value_ints")? {
        return Ok(Tensor::i64_vec(v));
    }
    Err(format!(
        "Constant with attribute(s) {:?} is not supported",
        a.names().collect::<Vec<_>>()
    ))
}
