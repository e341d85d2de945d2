//! Fake quantization in candle: the values whittle's int8 compilation computes with, as float
//! tensors, with straight-through gradients.
//!
//! The quantized values themselves come from the quantizer's and the runtime's own functions
//! ([`quantize_weights`], [`quantize_f32`], [`dequantize_i8`]) run on the host copy of each
//! tensor, so that training sees exactly the integers the compiled model will hold; only the
//! gradient is defined here.

use crate::quantize::quantize_weights;
use candle_core::{DType, Tensor};
use whittle_runtime::kernels::quantize::{dequantize_i8, quantize_f32};

fn host(x: &Tensor) -> candle_core::Result<Vec<f32>> {
    x.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()
}

fn like(values: Vec<f32>, x: &Tensor) -> candle_core::Result<Tensor> {
    Tensor::from_vec(values, x.shape(), x.device())?.to_dtype(x.dtype())
}

/// The weight `w` as the int8 model holds it: per-channel symmetric along `axis`, after the
/// compiler multiplied it by each of `folds` in turn (a Gemm's `alpha`, a folded batch norm's
/// `gamma / sqrt(var + eps)`; one factor per channel, or one for all), then divided by the
/// same factors again so that the student's own (unfolded) layers apply them.
///
/// Forward: the fake-quantized weight. Backward: the identity (straight-through estimator).
/// No weight is ever clipped (each channel's scale is its largest magnitude over 127), so
/// the plain estimator is the exact one inside the range.
pub fn weight(w: &Tensor, axis: usize, folds: &[Vec<f32>]) -> candle_core::Result<Tensor> {
    let shape = w.dims().to_vec();
    let channels = shape.get(axis).copied().unwrap_or(1).max(1);
    let inner: usize = shape.get(axis + 1..).map_or(1, |s| s.iter().product());
    let channel = |i: usize| (i / inner.max(1)) % channels;
    let factor = |f: &[f32], i: usize| if f.len() == 1 { f[0] } else { f[channel(i)] };
    let mut values = host(w)?;
    // The same products in the same order as the folding passes, so the same f32 values.
    for f in folds {
        for (i, v) in values.iter_mut().enumerate() {
            *v *= factor(f, i);
        }
    }
    let q = quantize_weights(&crate::Tensor::f32(shape, values), axis);
    let ints = q.ints.map(|t| t.to_i64()).unwrap_or_default();
    let fake: Vec<f32> = ints
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut v = n as f32 * q.scale[channel(i)];
            for f in folds.iter().rev() {
                v /= factor(f, i);
            }
            v
        })
        .collect();
    let fake = like(fake, w)?;
    w + (fake - w)?.detach()
}

/// The activation `x` quantized to int8 with `(scale, zero_point)` and dequantized, by the
/// runtime's own conversion (round half to even, saturating).
///
/// Backward: the identity where `x` lies within the representable range
/// `[(-128 - zp) · scale, (127 - zp) · scale]`, zero outside it (the clipped
/// straight-through estimator): outside, the int8 output is the bound whatever `x` is.
pub fn activation(x: &Tensor, scale: f32, zero_point: i64) -> candle_core::Result<Tensor> {
    let values = host(x)?;
    let zp = zero_point as i32;
    let mut ints = vec![0i8; values.len()];
    let mut fake = vec![0f32; values.len()];
    let mismatch = |_| candle_core::Error::Msg("fake quantization: length mismatch".into());
    quantize_f32(scale, zp, &values, &mut ints).map_err(mismatch)?;
    dequantize_i8(scale, zp, &ints, &mut fake).map_err(mismatch)?;
    let (lo, hi) = ((-128 - zp) as f32 * scale, (127 - zp) as f32 * scale);
    let inside: Vec<f32> = values
        .iter()
        .map(|&v| if (lo..=hi).contains(&v) { 1.0 } else { 0.0 })
        .collect();
    let passed = (x * like(inside, x)?)?;
    let fake = like(fake, x)?;
    &passed + (fake - &passed)?.detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn weights_take_the_quantizers_values_and_pass_gradients_straight() {
        let w = Var::from_vec(
            vec![0.5f32, -0.26, 0.01, 2.0, -1.0, 0.3],
            (2, 3),
            &Device::Cpu,
        )
        .unwrap();
        let y = weight(w.as_tensor(), 0, &[]).unwrap();
        let got = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        // Channel 0: scale 0.5/127; channel 1: scale 2/127.
        let (s0, s1) = (0.5f32 / 127.0, 2.0f32 / 127.0);
        let want = [
            127.0 * s0,
            (-0.26f32 / s0).round_ties_even() * s0,
            (0.01f32 / s0).round_ties_even() * s0,
            127.0 * s1,
            (-1.0f32 / s1).round_ties_even() * s1,
            (0.3f32 / s1).round_ties_even() * s1,
        ];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
        let grads = (y * 3.0).unwrap().sum_all().unwrap().backward().unwrap();
        let g = grads.get(&w).unwrap().flatten_all().unwrap();
        assert_eq!(g.to_vec1::<f32>().unwrap(), vec![3.0; 6]);
    }

    #[test]
    fn activations_round_to_the_grid_and_clip_their_gradient() {
        let x = Var::from_vec(vec![-2.0f32, 0.26, 0.74, 3.0], 4, &Device::Cpu).unwrap();
        // Range [-1, 1.55]: scale 0.01, zero point -28.
        let y = activation(x.as_tensor(), 0.01, -28).unwrap();
        let got = y.to_vec1::<f32>().unwrap();
        let want = [-1.0f32, 0.26, 0.74, 1.55];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
        let grads = y.sum_all().unwrap().backward().unwrap();
        let g = grads.get(&x).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(g, vec![0.0, 1.0, 1.0, 0.0]);
    }
}
