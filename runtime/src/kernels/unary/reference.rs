//! Scalar reference unary operators: the specification. Transcendental functions come from
//! `libm` on every target, so host and device compute the same bits.

use crate::format::UnaryKind;

/// Applies one unary operator to one value.
#[inline]
pub fn apply(kind: UnaryKind, x: f32) -> f32 {
    match kind {
        UnaryKind::Relu => x.max(0.0),
        UnaryKind::Clip { min, max } => x.max(min).min(max),
        UnaryKind::LeakyRelu { alpha } => {
            if x >= 0.0 {
                x
            } else {
                alpha * x
            }
        }
        UnaryKind::Sigmoid => sigmoid(x),
        UnaryKind::Tanh => libm::tanhf(x),
        UnaryKind::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
        UnaryKind::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
        UnaryKind::Elu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha * libm::expm1f(x)
            }
        }
        UnaryKind::Exp => libm::expf(x),
        UnaryKind::Log => libm::logf(x),
        UnaryKind::Sqrt => libm::sqrtf(x),
        UnaryKind::Neg => -x,
        UnaryKind::Abs => libm::fabsf(x),
        UnaryKind::Reciprocal => 1.0 / x,
        UnaryKind::Softplus => {
            // ln(1 + e^x) without overflow for large x.
            if x > 20.0 {
                x
            } else {
                libm::log1pf(libm::expf(x))
            }
        }
    }
}

/// Logistic function, stable for large negative inputs.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::expf(-x))
    } else {
        let e = libm::expf(x);
        e / (1.0 + e)
    }
}
