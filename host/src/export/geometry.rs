//! Convolution and pooling geometry in ONNX terms. The artifact runs them channels-last
//! (NHWC); ONNX's `Conv` and pooling operators are channels-first, so each one is wrapped in
//! a pair of `Transpose` nodes and its weights are reordered.

use super::ExportError;
use super::graph::Exporter;
use crate::onnx::build::Attr;
use whittle_runtime::format::{ConvGeometry, PoolGeometry, PoolKind};

/// Attributes of one ONNX node.
pub type Attrs = Vec<(&'static str, Attr)>;

/// `NHWC -> NCHW`.
pub const TO_NCHW: [i64; 4] = [0, 3, 1, 2];
/// `NCHW -> NHWC`.
pub const TO_NHWC: [i64; 4] = [0, 2, 3, 1];

/// Output length of one spatial axis as ONNX computes it, rounding down or up.
fn onnx_len(input: u32, pads: u32, kernel: u32, stride: u32, dilation: u32, ceil: bool) -> i64 {
    let span =
        i64::from(input) + i64::from(pads) - (i64::from(kernel) - 1) * i64::from(dilation) - 1;
    let stride = i64::from(stride.max(1));
    if span < 0 {
        return 0;
    }
    if ceil {
        (span + stride - 1) / stride + 1
    } else {
        span / stride + 1
    }
}

fn ints<const N: usize>(v: [u32; N]) -> Attr {
    Attr::Ints(v.map(i64::from).to_vec())
}

/// NHWC input dimensions of a convolution.
pub fn conv_input(g: &ConvGeometry) -> Vec<i64> {
    [g.batch, g.in_h, g.in_w, g.in_c].map(i64::from).to_vec()
}

/// NHWC output dimensions of a convolution.
pub fn conv_output(g: &ConvGeometry) -> Vec<i64> {
    [g.batch, g.out_h, g.out_w, g.out_c].map(i64::from).to_vec()
}

/// `Conv` attributes, after checking that ONNX computes the same output size.
pub fn conv_attrs(x: &Exporter<'_>, g: &ConvGeometry) -> Result<Attrs, ExportError> {
    let h = onnx_len(
        g.in_h,
        g.pad_top + g.pad_bottom,
        g.kernel_h,
        g.stride_h,
        g.dilation_h,
        false,
    );
    let w = onnx_len(
        g.in_w,
        g.pad_left + g.pad_right,
        g.kernel_w,
        g.stride_w,
        g.dilation_w,
        false,
    );
    if (h, w) != (i64::from(g.out_h), i64::from(g.out_w)) || g.groups == 0 {
        return Err(x.fail(format!(
            "geometry {g:?} gives a {h}x{w} output in ONNX, not {}x{}",
            g.out_h, g.out_w
        )));
    }
    Ok(vec![
        ("kernel_shape", ints([g.kernel_h, g.kernel_w])),
        ("strides", ints([g.stride_h, g.stride_w])),
        ("dilations", ints([g.dilation_h, g.dilation_w])),
        (
            "pads",
            ints([g.pad_top, g.pad_left, g.pad_bottom, g.pad_right]),
        ),
        ("group", Attr::Int(g.groups.into())),
    ])
}

/// Reorders convolution weights from the artifact's `[out_c][kh][kw][in_c/g]` to ONNX's
/// `[out_c][in_c/g][kh][kw]`, with the ONNX shape.
pub fn onnx_weights<T: Copy>(
    x: &Exporter<'_>,
    g: &ConvGeometry,
    w: &[T],
) -> Result<(Vec<usize>, Vec<T>), ExportError> {
    let (oc, kh, kw) = (g.out_c as usize, g.kernel_h as usize, g.kernel_w as usize);
    let cg = (g.in_c / g.groups.max(1)) as usize;
    if w.len() != oc * kh * kw * cg {
        return Err(x.fail(format!("{} weights for {oc}x{kh}x{kw}x{cg}", w.len())));
    }
    let mut out = Vec::with_capacity(w.len());
    for o in 0..oc {
        for c in 0..cg {
            for i in 0..kh {
                for j in 0..kw {
                    out.push(w[((o * kh + i) * kw + j) * cg + c]);
                }
            }
        }
    }
    Ok((vec![oc, cg, kh, kw], out))
}

/// NHWC input dimensions of a pooling.
pub fn pool_input(g: &PoolGeometry) -> Vec<i64> {
    [g.batch, g.in_h, g.in_w, g.channels]
        .map(i64::from)
        .to_vec()
}

/// NHWC output dimensions of a pooling.
pub fn pool_output(g: &PoolGeometry) -> Vec<i64> {
    [g.batch, g.out_h, g.out_w, g.channels]
        .map(i64::from)
        .to_vec()
}

/// `MaxPool` / `AveragePool` attributes. Max pooling may need `ceil_mode` (a window past the
/// end only sees padding, which never wins); average pooling must match with floor rounding,
/// since the divisor of such a window differs between runtimes. Dilated average pooling
/// needs opset 19 and is refused.
pub fn pool_attrs(x: &Exporter<'_>, g: &PoolGeometry, max: bool) -> Result<Attrs, ExportError> {
    let len = |ceil| {
        (
            onnx_len(
                g.in_h,
                g.pad_top + g.pad_bottom,
                g.kernel_h,
                g.stride_h,
                g.dilation_h,
                ceil,
            ),
            onnx_len(
                g.in_w,
                g.pad_left + g.pad_right,
                g.kernel_w,
                g.stride_w,
                g.dilation_w,
                ceil,
            ),
        )
    };
    let want = (i64::from(g.out_h), i64::from(g.out_w));
    let ceil = if len(false) == want {
        false
    } else if max && len(true) == want {
        true
    } else if len(true) == want {
        return Err(x.fail(
            "average pooling whose output size needs ceil_mode: runtimes disagree on the \
             divisor of the last, partial window",
        ));
    } else {
        return Err(x.fail(format!(
            "geometry {g:?} has no ONNX pooling with the same output size"
        )));
    };
    let mut attrs = vec![
        ("kernel_shape", ints([g.kernel_h, g.kernel_w])),
        ("strides", ints([g.stride_h, g.stride_w])),
        (
            "pads",
            ints([g.pad_top, g.pad_left, g.pad_bottom, g.pad_right]),
        ),
        ("ceil_mode", Attr::Int(i64::from(ceil))),
    ];
    if max {
        attrs.push(("dilations", ints([g.dilation_h, g.dilation_w])));
    } else if (g.dilation_h, g.dilation_w) != (1, 1) {
        return Err(x.fail("dilated average pooling (needs ONNX opset 19)"));
    }
    Ok(attrs)
}

/// The ONNX pooling operator for `kind` and its attributes.
pub fn pool_op(
    x: &Exporter<'_>,
    g: &PoolGeometry,
    kind: PoolKind,
) -> Result<(&'static str, Attrs), ExportError> {
    Ok(match kind {
        PoolKind::Max => ("MaxPool", pool_attrs(x, g, true)?),
        PoolKind::Avg { count_include_pad } => {
            let mut a = pool_attrs(x, g, false)?;
            a.push(("count_include_pad", Attr::Int(i64::from(count_include_pad))));
            ("AveragePool", a)
        }
    })
}
