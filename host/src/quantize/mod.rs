//! Post-training int8 quantization: calibrate activation ranges on the user's samples with
//! the float model (run by whittle-runtime), quantize weights per channel, and rewrite the
//! graph into QuantizeLinear/DequantizeLinear form, which the same passes as for pre-quantized
//! models turn into int8 operators.

mod bias;
mod calibrate;
mod insert;
pub mod ranges;

pub use bias::correct_biases;
pub use calibrate::{Calibration, calibrate};
pub use insert::{activation_params, float_nodes, quantize_graph, quantize_weights};
pub use ranges::{Method, TensorStats};

use crate::tensor::Tensor;

/// Options of post-training quantization.
#[derive(Debug, Clone)]
pub struct QuantizeOptions {
    /// Calibration inputs, one tensor per model input (float32, leading dimension = samples).
    pub calibration: Vec<Tensor>,
    /// How activation ranges are chosen.
    pub method: Method,
    /// Use at most this many calibration samples.
    pub samples: Option<usize>,
    /// Correct each layer's bias by the mean error the quantization introduces.
    pub bias_correction: bool,
    /// Keep the model's inputs and outputs int8 (else float, converted at the boundary).
    pub int8_io: bool,
    /// Names of layers (graph nodes) kept in float32: their weights stay float and their
    /// outputs are not quantized, so the layers reading them compute in float32 as well.
    pub keep_float: Vec<String>,
    /// Statistics already gathered on the same model and data (a previous compilation's
    /// [`crate::Compiled::calibration`]), so that variants differing only in `keep_float` or
    /// `bias_correction` skip calibrating again.
    pub calibrated: Option<std::sync::Arc<Calibration>>,
}
