//! 1x1 stride-1 convolutions: output pixels are input pixels.

use super::super::QuantOut;
use super::super::dot::{Dot, RowRun};
use super::filters::Filters;
use super::{Dims, add4, offsets_of, store};
use crate::kernels::fixedpoint::Requant4;
use crate::kernels::{chunks, chunks_mut};

/// 1x1 stride 1: four filters at a time, ready once, against every pixel.
// Not inlined: each path keeps its own stack frame (see `conv2d_i8`).
#[inline(never)]
pub(super) fn pointwise<D: Dot, F: Filters<D>>(
    d: &Dims,
    q: &QuantOut<'_>,
    input: &[i8],
    filters: &F,
    bias: Option<&[i32]>,
    output: &mut [i8],
) {
    let mut scratch = F::Scratch::default();
    for first in (0..d.out_c).step_by(4) {
        let count = (d.out_c - first).min(4);
        let channels = [0, 1, 2, 3].map(|k| first + k.min(count - 1));
        let start = offsets_of::<D, F>(q, bias, channels, filters);
        let requants = Requant4::new(q, channels);
        let block = filters.block(channels, &mut scratch);
        let run = RowRun {
            rows: d.batch * d.in_h * d.in_w,
            len: d.in_c,
            out: first,
            out_step: d.out_c,
        };
        if count == 4 && F::dot4_rows(start, input, &block, &run, &requants, output) {
            continue;
        }
        let pixels = chunks(input, d.in_c).zip(chunks_mut(output, d.out_c));
        for (x, y) in pixels {
            let dots = F::dot4(x, &block);
            let acc = add4(start, dots);
            store(y, first, count, acc, &requants);
        }
    }
}
