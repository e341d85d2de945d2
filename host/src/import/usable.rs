//! Whether a node that runs can be compiled as its inputs are: element types at run time,
//! and constant inputs that hold usable values.

use crate::ir::{Graph, Node, Op, ValueId};
use crate::tensor::ElemType;

/// Whether the run-time (non-constant) tensors of `node` have element types whittle runs:
/// float32 everywhere, int8 through Quantize/DequantizeLinear and data movement.
pub(super) fn runtime_types(g: &Graph, node: &Node) -> Result<(), String> {
    let runtime = |ids: &[Option<ValueId>]| -> Vec<ValueId> {
        ids.iter()
            .flatten()
            .copied()
            .filter(|&i| g.values[i].konst.is_none())
            .collect()
    };
    let inputs = runtime(&node.inputs);
    let outputs = runtime(&node.outputs.iter().map(|&o| Some(o)).collect::<Vec<_>>());
    let dtype = |i: ValueId| g.values[i].dtype;
    let name = |i: ValueId| g.values[i].name.clone();
    // uint8 tensors inside the model run as int8 (shifted by 128); at the model's boundary
    // they would change the data the caller exchanges.
    let boundary_uint8 = |i: ValueId| {
        (g.inputs.contains(&i) || g.outputs.contains(&i)).then(|| {
            format!("model input/output '{}' is uint8; whittle exchanges float32 or int8 at the boundary", name(i))
        })
    };
    let params_constant = || -> Result<(), String> {
        let scale = node.input(1).and_then(|s| g.konst(s));
        let zp = node.input(2).map(|z| g.konst(z).is_some()).unwrap_or(true);
        match scale {
            Some(s) if zp && s.len() == 1 => Ok(()),
            Some(_) if zp => Err("per-channel quantization of activations is not supported".into()),
            _ => Err("scale and zero point must be constants".into()),
        }
    };
    match &node.op {
        Op::Quantize { .. } => {
            params_constant()?;
            match outputs.first().map(|&o| dtype(o)) {
                Some(ElemType::I8) => Ok(()),
                Some(ElemType::U8) => boundary_uint8(outputs[0]).map_or(Ok(()), Err),
                Some(other) => Err(format!(
                    "QuantizeLinear to {other} is not supported (int8 only)"
                )),
                None => Ok(()),
            }
        }
        Op::Dequantize { .. } => {
            params_constant()?;
            match inputs.first().map(|&i| dtype(i)) {
                Some(ElemType::I8) => Ok(()),
                Some(ElemType::U8) => boundary_uint8(inputs[0]).map_or(Ok(()), Err),
                Some(other) => Err(format!(
                    "DequantizeLinear of {other} at run time is not supported (int8 only)"
                )),
                None => Ok(()),
            }
        }
        op if op.constant_only() => Err(format!(
            "{} is only supported on constant inputs (it is folded at compile time)",
            node.op_type
        )),
        op => {
            let moves_data = matches!(
                op,
                Op::Reshape { .. }
                    | Op::Transpose { .. }
                    | Op::Concat { .. }
                    | Op::Slice { .. }
                    | Op::Split { .. }
                    | Op::Identity
            );
            let allowed = |t: ElemType| {
                t == ElemType::F32 || (moves_data && matches!(t, ElemType::I8 | ElemType::U8))
            };
            match inputs.iter().chain(&outputs).find(|&&i| !allowed(dtype(i))) {
                Some(&bad) => Err(format!(
                    "tensor '{}' is {} at run time; {} runs on float32{}",
                    name(bad),
                    dtype(bad),
                    node.op_type,
                    if moves_data {
                        " or int8"
                    } else {
                        " (int8 operators come from QuantizeLinear/DequantizeLinear pairs)"
                    }
                )),
                None => Ok(()),
            }
        }
    }
}

/// Operators whose constant inputs are weights: their values are computed with, so an
/// infinity is as wrong as a NaN (elsewhere, e.g. a Clip bound or a mask, it can be meant).
const WEIGHTED_OPS: &[&str] = &[
    "Conv",
    "ConvTranspose",
    "Gemm",
    "MatMul",
    "BatchNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "PRelu",
];

/// Whether the constant inputs of a node that runs (has a run-time input) can be compiled:
/// no NaN, and in weights no infinity and no zero dimension (a layer without weights is what
/// pruning every channel leaves; empty tensors elsewhere are valid ONNX and handled).
pub(super) fn constant_inputs_usable(g: &Graph, node: &Node) -> Result<(), String> {
    let inputs: Vec<ValueId> = node.inputs.iter().flatten().copied().collect();
    if inputs.iter().all(|&i| g.values[i].konst.is_some()) {
        return Ok(()); // folded at compile time, never run
    }
    let weighted = WEIGHTED_OPS.contains(&node.op_type.as_str());
    for &id in &inputs {
        let Some(t) = &g.values[id].konst else {
            continue;
        };
        let name = &g.values[id].name;
        if weighted && t.shape.contains(&0) {
            return Err(format!(
                "constant input '{name}' has shape {:?}, a zero dimension: it holds no weights",
                t.shape
            ));
        }
        let Some(values) = t.as_f32() else {
            continue;
        };
        let bad = values
            .iter()
            .position(|v| v.is_nan() || (weighted && v.is_infinite()));
        if let Some(at) = bad {
            return Err(format!(
                "constant input '{name}' (shape {:?}) holds {} at element {at}",
                t.shape, values[at]
            ));
        }
    }
    Ok(())
}
