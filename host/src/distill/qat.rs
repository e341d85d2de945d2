//! Quantization-aware training: which of the student's weights and activations the int8
//! compilation quantizes, and with what activation parameters, found by running the
//! compiler's own passes and calibrator on the student's current weights.

use super::error::DistillError;
use super::student::Student;
use crate::import::import;
use crate::ir::{Graph, Op, ValueId};
use crate::quantize::{Method, activation_params, calibrate};
use std::collections::HashMap;

/// Options of quantization-aware training (`--qat int8`).
#[derive(Debug, Clone, PartialEq)]
pub struct QatOptions {
    /// How activation ranges are chosen: the method `whittle compile --calib-method` will use.
    pub method: Method,
    /// Calibrate on at most this many training samples (`--calib-samples`).
    pub samples: Option<usize>,
}

impl Default for QatOptions {
    fn default() -> Self {
        QatOptions {
            method: Method::Mse,
            samples: None,
        }
    }
}

/// Parses the scheme `--qat` names: only `int8`.
pub fn parse_scheme(s: &str) -> Result<(), String> {
    match s {
        "int8" => Ok(()),
        other => Err(format!(
            "--qat takes int8 (the only quantization whittle compiles), not '{other}'"
        )),
    }
}

/// The int8 `(scale, zero_point)` of each activation the compiled model quantizes, by the
/// student's value, from one calibration of its current weights.
#[derive(Debug, Clone, Default)]
pub struct Ranges {
    pub(crate) params: HashMap<ValueId, (f32, i64)>,
    /// Quantized values of the compiled graph the student has no counterpart for (a value a
    /// compiler pass creates, such as the multiply of a batch norm it could not fold); the
    /// student leaves them in float.
    pub unmatched: Vec<String>,
    /// Calibration samples used.
    pub samples: usize,
}

impl Ranges {
    /// Activations fake-quantized.
    pub fn len(&self) -> usize {
        self.params.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
}

/// Calibrates the student as `whittle compile --quantize int8` would: its current weights
/// written to ONNX, imported and optimized by the compiler's passes, run by whittle-runtime
/// over `calib` with the real calibrator, and the activation parameters the quantizer would
/// insert mapped back to the student's values by name.
pub fn ranges(
    student: &Student,
    calib: &crate::Tensor,
    options: &QatOptions,
) -> Result<Ranges, DistillError> {
    let model = student.to_onnx()?;
    let mut imported = import(&model, student.dir(), student.import_options())?;
    crate::passes::optimize(&mut imported.graph);
    let g = imported.graph;
    let calibration = calibrate(
        &g,
        std::slice::from_ref(calib),
        options.method,
        options.samples,
    )?;
    let mut ranges = Ranges {
        samples: calibration.samples,
        ..Ranges::default()
    };
    for (v, _, p) in activation_params(&g, &calibration, options.method) {
        let name = &g.values[v].name;
        if student.final_softmax() == Some(name) {
            continue;
        }
        match student.value_named(name) {
            Some(id) => {
                ranges.params.insert(id, p);
            }
            None => ranges.unmatched.push(name.clone()),
        }
    }
    Ok(ranges)
}

/// How the compiler quantizes the weight (input 1) of one of the student's nodes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WeightPlan {
    /// The per-channel axis in the student's layout.
    pub axis: usize,
    /// A Gemm's `alpha`, which the compiler multiplies into the weights.
    pub alpha: Option<f32>,
    /// The IR index of the BatchNormalization the compiler folds into the layer.
    pub batch_norm: Option<usize>,
}

/// The weight plan of IR node `n`, mirroring `linear::form`, `batchnorm::fold` and
/// `quantize_graph`: Conv weights per output channel, Gemm `B` and 2-D MatMul constants per
/// output column; a batch norm folded in when it is the layer's only reader.
pub(crate) fn weight_plan(g: &Graph, n: usize) -> Option<WeightPlan> {
    let node = &g.nodes[n];
    let w = node.input(1)?;
    g.konst(w)?;
    let (axis, alpha, linear) = match &node.op {
        Op::Conv(_) => (0, None, false),
        Op::Gemm(a) if !a.trans_a => (
            usize::from(!a.trans_b),
            (a.alpha != 1.0).then_some(a.alpha),
            true,
        ),
        Op::MatMul if g.shape(w).len() == 2 => (1, None, true),
        _ => return None,
    };
    let out = *node.outputs.first()?;
    let folds = g.use_counts()[out] == 1
        && !g.outputs.contains(&out)
        && (!linear || g.shape(out).len() == 2);
    let batch_norm = g
        .nodes
        .iter()
        .position(|r| folds && matches!(r.op, Op::BatchNorm { .. }) && r.input(0) == Some(out));
    Some(WeightPlan {
        axis,
        alpha,
        batch_norm,
    })
}
