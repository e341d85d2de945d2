//! The geometry as the optimized loops use it, and the in-bounds taps of a window.

use crate::format::ConvGeometry;
use core::num::{NonZeroU32, NonZeroUsize};

/// The geometry as `usize`, every divisor non-zero.
pub(in crate::kernels::conv) struct Dims {
    pub(in crate::kernels::conv) batch: usize,
    pub(in crate::kernels::conv) in_h: usize,
    pub(in crate::kernels::conv) in_w: usize,
    pub(in crate::kernels::conv) in_c: usize,
    pub(in crate::kernels::conv) out_h: usize,
    pub(in crate::kernels::conv) out_w: usize,
    pub(in crate::kernels::conv) out_c: usize,
    pub(in crate::kernels::conv) k_h: usize,
    pub(in crate::kernels::conv) k_w: usize,
    pub(in crate::kernels::conv) s_h: usize,
    pub(in crate::kernels::conv) s_w: usize,
    pub(in crate::kernels::conv) d_h: usize,
    pub(in crate::kernels::conv) d_w: usize,
    pub(in crate::kernels::conv) pad_top: usize,
    pub(in crate::kernels::conv) pad_left: usize,
    pub(in crate::kernels::conv) groups: usize,
    pub(in crate::kernels::conv) in_per_group: usize,
    pub(in crate::kernels::conv) out_per_group: usize,
}

impl Dims {
    /// `None` when a size, stride, dilation or group count is zero (left to the reference).
    pub(in crate::kernels::conv) fn of(g: &ConvGeometry) -> Option<Self> {
        let u = |v: u32| v as usize;
        let nonzero = [
            g.in_c,
            g.out_c,
            g.kernel_h,
            g.kernel_w,
            g.stride_h,
            g.stride_w,
            g.dilation_h,
            g.dilation_w,
            g.groups,
        ];
        if nonzero.contains(&0) {
            return None;
        }
        let groups = NonZeroU32::new(g.groups)?;
        let (in_per_group, out_per_group) = (u(g.in_c / groups), u(g.out_c / groups));
        if in_per_group == 0 || out_per_group == 0 {
            return None;
        }
        Some(Self {
            batch: u(g.batch),
            in_h: u(g.in_h),
            in_w: u(g.in_w),
            in_c: u(g.in_c),
            out_h: u(g.out_h),
            out_w: u(g.out_w),
            out_c: u(g.out_c),
            k_h: u(g.kernel_h),
            k_w: u(g.kernel_w),
            s_h: u(g.stride_h),
            s_w: u(g.stride_w),
            d_h: u(g.dilation_h),
            d_w: u(g.dilation_w),
            pad_top: u(g.pad_top),
            pad_left: u(g.pad_left),
            groups: u(g.groups),
            in_per_group,
            out_per_group,
        })
    }

    /// 1x1, stride 1, no padding, one group: output pixels are input pixels.
    pub(in crate::kernels::conv) fn is_pointwise(&self) -> bool {
        [self.k_h, self.k_w, self.s_h, self.s_w, self.groups] == [1; 5]
            && self.pad_top == 0
            && self.pad_left == 0
            && (self.out_h, self.out_w) == (self.in_h, self.in_w)
    }

    /// One filter per input channel.
    pub(in crate::kernels::conv) fn is_depthwise(&self) -> bool {
        self.groups == self.in_c && self.out_c == self.in_c
    }

    /// Weights of one output channel's filter.
    pub(in crate::kernels::conv) fn filter_len(&self) -> usize {
        self.k_h * self.k_w * self.in_per_group
    }
}

/// The in-bounds taps of one kernel axis at one output position.
#[derive(Clone, Copy, PartialEq)]
pub(in crate::kernels::conv) struct Taps {
    /// First tap inside the input.
    pub(in crate::kernels::conv) lo: usize,
    /// One past the last tap inside the input.
    pub(in crate::kernels::conv) hi: usize,
    /// Input position of tap `lo`.
    pub(in crate::kernels::conv) first: usize,
}

impl Taps {
    /// Tap `k` reads padded position `out * stride + k * dilation`, inside the input when it is
    /// in `pad..pad + len`.
    #[inline]
    pub(in crate::kernels::conv) fn at(
        out: usize,
        stride: usize,
        dilation: usize,
        pad: usize,
        len: usize,
        k: usize,
    ) -> Self {
        // Never zero in `Dims`; a `NonZeroUsize` divides without a zero check (or a panic).
        let dilation = NonZeroUsize::new(dilation).unwrap_or(NonZeroUsize::MIN);
        // Without dilation (the common case) the division is the identity: skip it.
        let div_ceil = |n: usize| {
            if dilation.get() == 1 {
                n
            } else {
                n / dilation + usize::from(n % dilation != 0)
            }
        };
        let start = out * stride;
        let lo = if start >= pad {
            0
        } else {
            div_ceil(pad - start)
        };
        let end = pad + len;
        let hi = if start >= end {
            0
        } else {
            div_ceil(end - start).min(k)
        };
        let lo = lo.min(hi);
        Self {
            lo,
            hi,
            first: (start + lo * dilation.get()).wrapping_sub(pad),
        }
    }
}
