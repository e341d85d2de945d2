//! 1x1 stride-1 convolutions: output pixels are input pixels.

use super::super::QuantOut;
use super::super::dot::Dot;
use super::{Dims, add4, offsets_of, run, store};
use crate::kernels::fixedpoint::ChannelRequant;
use crate::kernels::{chunks, chunks_mut};

/// 1x1 stride 1: four filters at a time, prepared once, against every pixel.
// Not inlined: each path keeps its own stack frame (see `conv2d_i8`).
#[inline(never)]
pub(super) fn pointwise<D: Dot>(
    d: &Dims,
    q: &QuantOut<'_>,
    input: &[i8],
    weights: &[i8],
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let mut scratch = D::Scratch::default();
    for first in (0..d.out_c).step_by(4) {
        let count = (d.out_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let filters = channels.map(|c| run(weights, c * d.in_c, d.in_c));
        let start = offsets_of::<D>(q, bias, channels, filters);
        let requants = channels.map(|c| ChannelRequant::new(q, c));
        let rows = D::prepare(filters, &mut scratch);
        let pixels = chunks(input, d.in_c).zip(chunks_mut(output, d.out_c));
        for (x, y) in pixels {
            let dots = D::dot4_prepared(x, &rows);
            let acc = add4(start, dots);
            store(y, first, count, acc, &requants);
        }
    }
}
