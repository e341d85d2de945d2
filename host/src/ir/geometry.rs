//! Sliding-window arithmetic shared by convolution and pooling (ONNX `auto_pad`, `ceil_mode`).

/// ONNX `auto_pad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoPad {
    /// Explicit `pads`.
    NotSet,
    /// Output size `ceil(in / stride)`, extra padding at the end.
    SameUpper,
    /// Output size `ceil(in / stride)`, extra padding at the start.
    SameLower,
    /// No padding.
    Valid,
}

impl AutoPad {
    /// Parses the attribute value.
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        match s {
            None | Some("NOTSET") | Some("") => Ok(AutoPad::NotSet),
            Some("SAME_UPPER") => Ok(AutoPad::SameUpper),
            Some("SAME_LOWER") => Ok(AutoPad::SameLower),
            Some("VALID") => Ok(AutoPad::Valid),
            Some(other) => Err(format!("auto_pad '{other}' is not an ONNX value")),
        }
    }
}

/// One spatial axis of a window: padding and output size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Padding before.
    pub pad_begin: usize,
    /// Padding after.
    pub pad_end: usize,
    /// Output size.
    pub out: usize,
}

/// Resolves padding and output size of one axis.
pub fn window(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    auto_pad: AutoPad,
    pads: (usize, usize),
    ceil_mode: bool,
) -> Result<Window, String> {
    if kernel == 0 || stride == 0 || dilation == 0 {
        return Err("kernel, stride and dilation must be positive".into());
    }
    // Bounded so that the arithmetic below cannot overflow.
    const LIMIT: usize = 1 << 24;
    if [input, kernel, stride, dilation, pads.0, pads.1]
        .iter()
        .any(|&v| v > LIMIT)
    {
        return Err(format!(
            "window parameters out of range (input {input}, kernel {kernel}, stride {stride}, dilation {dilation}, pads {pads:?})"
        ));
    }
    let extent = dilation * (kernel - 1) + 1;
    match auto_pad {
        AutoPad::SameUpper | AutoPad::SameLower => {
            let out = input.div_ceil(stride);
            let total = ((out.max(1) - 1) * stride + extent).saturating_sub(input);
            let small = total / 2;
            let (pad_begin, pad_end) = if auto_pad == AutoPad::SameUpper {
                (small, total - small)
            } else {
                (total - small, small)
            };
            Ok(Window {
                pad_begin,
                pad_end,
                out,
            })
        }
        AutoPad::NotSet | AutoPad::Valid => {
            let (pad_begin, pad_end) = if auto_pad == AutoPad::Valid {
                (0, 0)
            } else {
                pads
            };
            let padded = input + pad_begin + pad_end;
            if padded < extent {
                return Err(format!(
                    "window of extent {extent} does not fit input of size {input} with padding ({pad_begin}, {pad_end})"
                ));
            }
            let span = padded - extent;
            let mut out = if ceil_mode {
                span.div_ceil(stride)
            } else {
                span / stride
            } + 1;
            // The last window must start inside the input or its leading padding.
            if ceil_mode && (out - 1) * stride >= input + pad_begin {
                out -= 1;
            }
            Ok(Window {
                pad_begin,
                pad_end,
                out,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_upper_puts_the_extra_pad_at_the_end() {
        let w = window(5, 3, 2, 1, AutoPad::SameUpper, (0, 0), false).unwrap();
        assert_eq!(
            w,
            Window {
                pad_begin: 1,
                pad_end: 1,
                out: 3
            }
        );
        let w = window(4, 3, 2, 1, AutoPad::SameUpper, (0, 0), false).unwrap();
        assert_eq!(
            w,
            Window {
                pad_begin: 0,
                pad_end: 1,
                out: 2
            }
        );
        let w = window(4, 3, 2, 1, AutoPad::SameLower, (0, 0), false).unwrap();
        assert_eq!(
            w,
            Window {
                pad_begin: 1,
                pad_end: 0,
                out: 2
            }
        );
    }

    #[test]
    fn ceil_mode_adds_a_partial_window() {
        assert_eq!(
            window(5, 2, 2, 1, AutoPad::NotSet, (0, 0), false)
                .unwrap()
                .out,
            2
        );
        assert_eq!(
            window(5, 2, 2, 1, AutoPad::NotSet, (0, 0), true)
                .unwrap()
                .out,
            3
        );
    }

    #[test]
    fn kws_first_conv_matches_tflite() {
        // 49x10 input, 10x4 kernel, stride 2, pads (4,5) and (1,1): 25x5 output.
        assert_eq!(
            window(49, 10, 2, 1, AutoPad::NotSet, (4, 5), false)
                .unwrap()
                .out,
            25
        );
        assert_eq!(
            window(10, 4, 2, 1, AutoPad::NotSet, (1, 1), false)
                .unwrap()
                .out,
            5
        );
    }

    #[test]
    fn too_small_input_is_an_error() {
        assert!(window(2, 5, 1, 1, AutoPad::NotSet, (0, 0), false).is_err());
    }
}
