//! Differentiable layers over candle tensors. 1-D convolutions and pools run as 2-D ones with
//! a unit height: candle 0.11's CPU `conv1d` backward gives wrong kernel gradients, while
//! `conv2d`'s are right (checked against finite differences in the tests).

use crate::ir::geometry::{AutoPad, window};
use candle_core::{DType, Result, Tensor};

/// Window geometry of a 1-D or 2-D convolution or pooling, in 2-D form (a 1-D window has a
/// unit height).
#[derive(Debug, Clone, PartialEq)]
pub struct Window2 {
    /// 1 or 2 spatial axes in the model.
    pub spatial: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Strides.
    pub stride: [usize; 2],
    /// Dilations.
    pub dilation: [usize; 2],
    /// Padding (begin, end) per axis.
    pub pads: [(usize, usize); 2],
    /// Output height and width.
    pub out: [usize; 2],
}

/// Attributes of a window op as the IR holds them.
pub struct WindowAttrs<'a> {
    /// Spatial input dimensions.
    pub input: &'a [usize],
    /// Kernel per spatial axis.
    pub kernel: &'a [usize],
    /// Strides (default 1).
    pub strides: Option<&'a [usize]>,
    /// Dilations (default 1).
    pub dilations: Option<&'a [usize]>,
    /// Explicit pads: begins, then ends.
    pub pads: Option<&'a [usize]>,
    /// ONNX `auto_pad`.
    pub auto_pad: AutoPad,
    /// Round the output size up.
    pub ceil_mode: bool,
}

impl Window2 {
    /// Resolves padding and output sizes; only 1 or 2 spatial axes.
    pub fn new(a: &WindowAttrs<'_>) -> std::result::Result<Self, String> {
        let n = a.input.len();
        if !(1..=2).contains(&n) || a.kernel.len() != n {
            return Err(format!(
                "{n} spatial axes (kernel {:?}); only 1-D and 2-D windows are trained",
                a.kernel
            ));
        }
        let get = |v: Option<&[usize]>, i: usize| v.and_then(|v| v.get(i).copied()).unwrap_or(1);
        let mut w = Window2 {
            spatial: n,
            input: [1; 2],
            kernel: [1; 2],
            stride: [1; 2],
            dilation: [1; 2],
            pads: [(0, 0); 2],
            out: [1; 2],
        };
        for i in 0..n {
            // A 1-D window lives on the width axis.
            let axis = i + 2 - n;
            let pads = a
                .pads
                .map(|p| {
                    (
                        p.get(i).copied().unwrap_or(0),
                        p.get(i + n).copied().unwrap_or(0),
                    )
                })
                .unwrap_or((0, 0));
            let (stride, dilation) = (get(a.strides, i), get(a.dilations, i));
            let win = window(
                a.input[i],
                a.kernel[i],
                stride,
                dilation,
                a.auto_pad,
                pads,
                a.ceil_mode,
            )?;
            w.input[axis] = a.input[i];
            w.kernel[axis] = a.kernel[i];
            w.stride[axis] = stride;
            w.dilation[axis] = dilation;
            w.pads[axis] = (win.pad_begin, win.pad_end);
            w.out[axis] = win.out;
        }
        Ok(w)
    }

    /// Input extent the windows read along `axis` (after padding).
    fn extent(&self, axis: usize) -> usize {
        (self.out[axis] - 1) * self.stride[axis] + self.dilation[axis] * (self.kernel[axis] - 1) + 1
    }

    /// `x` as 4-D (a unit height for 1-D data).
    fn to_4d(&self, x: &Tensor) -> Result<Tensor> {
        if self.spatial == 1 {
            x.unsqueeze(2)
        } else {
            Ok(x.clone())
        }
    }

    /// A 4-D result back in the model's rank.
    fn restore(&self, y: Tensor) -> Result<Tensor> {
        if self.spatial == 1 {
            y.squeeze(2)
        } else {
            Ok(y)
        }
    }

    /// Pads `x` (4-D) with `value` and crops it to exactly the extent the windows read, so
    /// that candle's transposed convolution in the backward pass reproduces the input size.
    fn pad_and_crop(&self, x: &Tensor, value: f64) -> Result<Tensor> {
        let mut x = x.clone();
        for axis in 0..2 {
            let (begin, end) = self.pads[axis];
            let need = self.extent(axis);
            let have = self.input[axis] + begin + end;
            let end = end + need.saturating_sub(have);
            x = pad(&x, axis + 2, begin, end, value)?;
            if have > need {
                x = x.narrow(axis + 2, 0, need)?;
            }
        }
        Ok(x)
    }
}

/// Pads `x` along `axis` with a constant.
pub fn pad(x: &Tensor, axis: usize, begin: usize, end: usize, value: f64) -> Result<Tensor> {
    if begin == 0 && end == 0 {
        return Ok(x.clone());
    }
    if value == 0.0 {
        return x.pad_with_zeros(axis, begin, end);
    }
    let mut parts = Vec::with_capacity(3);
    let block = |len: usize| {
        let mut dims = x.dims().to_vec();
        dims[axis] = len;
        Tensor::full(value, dims, x.device())?.to_dtype(x.dtype())
    };
    if begin > 0 {
        parts.push(block(begin)?);
    }
    parts.push(x.clone());
    if end > 0 {
        parts.push(block(end)?);
    }
    Tensor::cat(&parts, axis)
}

/// ONNX `Conv`: `x` `[N, C, (H,) W]`, `w` `[O, C / group, (kh,) kw]`, optional bias `[O]`.
pub fn conv(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    g: &Window2,
    group: usize,
) -> Result<Tensor> {
    let x = g.pad_and_crop(&g.to_4d(x)?, 0.0)?;
    let w = g.to_4d(w)?;
    // The 2-D form has one stride and dilation for both axes; the constructor of the student
    // refuses 2-D windows whose axes differ, and a 1-D window's height makes them irrelevant.
    let (stride, dilation) = (g.stride[1], g.dilation[1]);
    let mut y = x.conv2d(&w, 0, stride, dilation, group)?;
    if let Some(b) = b {
        y = y.broadcast_add(&b.reshape((1, (), 1, 1))?)?;
    }
    g.restore(y)
}

/// Every `stride`-th element along `axis`, starting at `start`, `count` of them.
fn strided(x: &Tensor, axis: usize, start: usize, count: usize, stride: usize) -> Result<Tensor> {
    if stride == 1 {
        return x.narrow(axis, start, count);
    }
    let ids: Vec<u32> = (0..count).map(|i| (start + i * stride) as u32).collect();
    // index_select reads contiguous data only.
    x.contiguous()?
        .index_select(&Tensor::new(ids, x.device())?, axis)
}

/// The window taps of `x` (4-D, padded and cropped) stacked on a new last axis.
fn taps(x: &Tensor, g: &Window2) -> Result<Tensor> {
    let mut taps = Vec::with_capacity(g.kernel[0] * g.kernel[1]);
    for i in 0..g.kernel[0] {
        let rows = strided(x, 2, i * g.dilation[0], g.out[0], g.stride[0])?;
        for j in 0..g.kernel[1] {
            taps.push(strided(&rows, 3, j * g.dilation[1], g.out[1], g.stride[1])?);
        }
    }
    Tensor::stack(&taps, 4)
}

/// The maximum along `axis`, its gradient going to one element only. candle's `max` passes
/// the gradient to every tied element, which after a Relu (many exact zeros) overcounts.
pub fn max_along(x: &Tensor, axis: usize) -> Result<Tensor> {
    let x = x.contiguous()?;
    let at = x.argmax_keepdim(axis)?.contiguous()?;
    x.gather(&at, axis)?.squeeze(axis)
}

/// Max pooling; padding never wins.
pub fn max_pool(x: &Tensor, g: &Window2) -> Result<Tensor> {
    let x = g.pad_and_crop(&g.to_4d(x)?, f32::MIN as f64)?;
    g.restore(max_along(&taps(&x, g)?, 4)?)
}

/// Average pooling; `divisor` `[1, 1, oh, ow]` holds the count of each window.
pub fn avg_pool(x: &Tensor, g: &Window2, divisor: &Tensor) -> Result<Tensor> {
    let x = g.pad_and_crop(&g.to_4d(x)?, 0.0)?;
    g.restore(taps(&x, g)?.sum(4)?.broadcast_div(divisor)?)
}

/// The number of elements each average-pooling window divides by: positions inside the input,
/// plus the explicit padding when `count_include_pad` (never the extension of `ceil_mode`).
pub fn avg_divisor(g: &Window2, count_include_pad: bool) -> Vec<f32> {
    let count = |axis: usize, o: usize| {
        let (begin, end) = g.pads[axis];
        let (lo, hi) = if count_include_pad {
            (0, g.input[axis] + begin + end)
        } else {
            (begin, begin + g.input[axis])
        };
        (0..g.kernel[axis])
            .map(|k| o * g.stride[axis] + k * g.dilation[axis])
            .filter(|&p| p >= lo && p < hi)
            .count()
    };
    let mut out = Vec::with_capacity(g.out[0] * g.out[1]);
    for oh in 0..g.out[0] {
        for ow in 0..g.out[1] {
            out.push((count(0, oh) * count(1, ow)).max(1) as f32);
        }
    }
    out
}

/// Softmax (or log-softmax) along `axis`.
pub fn softmax(x: &Tensor, axis: usize, log: bool) -> Result<Tensor> {
    let shifted = x.broadcast_sub(&x.max_keepdim(axis)?.detach())?;
    if log {
        shifted.broadcast_sub(&shifted.exp()?.sum_keepdim(axis)?.log()?)
    } else {
        let e = shifted.exp()?;
        e.broadcast_div(&e.sum_keepdim(axis)?)
    }
}

/// `x` clamped to `[min, max]` (either bound may be infinite).
pub fn clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    let mut y = x.clone();
    if min.is_finite() {
        y = y.maximum(min as f64)?;
    }
    if max.is_finite() {
        y = y.minimum(max as f64)?;
    }
    Ok(y)
}

/// A host tensor as a candle tensor of `dtype`.
pub fn from_host(t: &crate::Tensor, dtype: DType, dev: &candle_core::Device) -> Result<Tensor> {
    Tensor::from_vec(t.to_f32(), t.shape.as_slice(), dev)?.to_dtype(dtype)
}
