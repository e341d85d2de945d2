//! Where the pointwise and gathered paths read their filters from: reference int8 rows,
//! arranged per block of four channels on the stack ([`Dot::prepare`]), or words the compiler
//! widened ahead of time ([`WeightLayout::Widened4`](crate::format::WeightLayout::Widened4)).

use super::super::dot::{Dot, RowRun};
use super::run;
use crate::kernels::chunks;
use crate::kernels::fixedpoint::Requant4;

/// The filters of one convolution, each `len` values long.
pub(super) trait Filters<D: Dot> {
    /// Stack space a block needs.
    type Scratch: Default;
    /// Four filters ready for [`Filters::dot4`].
    type Block<'a>
    where
        Self: 'a;

    /// `sum w` over the filter of channel `c`.
    fn sum(&self, c: usize) -> i32;

    /// The filters of `channels`; the first is a multiple of four, the others follow it (the
    /// last one repeated when fewer than four remain).
    fn block<'a>(&'a self, channels: [usize; 4], scratch: &'a mut Self::Scratch)
    -> Self::Block<'a>;

    /// `sum x[i] * w[k][i]` for the four filters of `block`, wrapping.
    fn dot4(x: &[i8], block: &Self::Block<'_>) -> [i32; 4];

    /// Every row of `run` through [`Filters::dot4`], requantized from `start` into `output`,
    /// when `D` has a loop for it ([`Dot::dot4_widened_rows`]); whether it ran.
    fn dot4_rows(
        start: [i32; 4],
        x: &[i8],
        block: &Self::Block<'_>,
        run: &RowRun,
        requants: &Requant4,
        output: &mut [i8],
    ) -> bool;
}

/// Reference rows: `[out_c][len]` int8 values.
pub(super) struct Rows<'w> {
    pub(super) weights: &'w [i8],
    pub(super) len: usize,
}

impl<D: Dot> Filters<D> for Rows<'_> {
    type Scratch = D::Scratch;
    type Block<'a>
        = D::Rows<'a>
    where
        Self: 'a;

    #[inline(always)]
    fn sum(&self, c: usize) -> i32 {
        D::sum(run(self.weights, c * self.len, self.len))
    }

    #[inline(always)]
    fn block<'a>(&'a self, channels: [usize; 4], scratch: &'a mut D::Scratch) -> D::Rows<'a> {
        D::prepare(
            channels.map(|c| run(self.weights, c * self.len, self.len)),
            scratch,
        )
    }

    #[inline(always)]
    fn dot4(x: &[i8], rows: &D::Rows<'_>) -> [i32; 4] {
        D::dot4_prepared(x, rows)
    }

    #[inline(always)]
    fn dot4_rows(
        start: [i32; 4],
        x: &[i8],
        rows: &D::Rows<'_>,
        run: &RowRun,
        requants: &Requant4,
        output: &mut [i8],
    ) -> bool {
        D::dot4_prepared_rows(start, x, rows, run, requants, output)
    }
}

/// Widened words: per block of four channels, `8 * ceil(len / 4)` words.
pub(super) struct Widened<'w> {
    pub(super) words: &'w [u32],
    pub(super) len: usize,
}

impl Widened<'_> {
    /// Words of one block of four channels.
    fn block_words(&self) -> usize {
        8 * self.len.div_ceil(4)
    }
}

impl<D: Dot> Filters<D> for Widened<'_> {
    type Scratch = ();
    type Block<'a>
        = &'a [u32]
    where
        Self: 'a;

    fn sum(&self, c: usize) -> i32 {
        let per_block = self.block_words();
        let block = self.words.get(c / 4 * per_block..).unwrap_or(&[]);
        let lanes = |w: u32| i32::from(w as u16 as i16).wrapping_add(i32::from((w >> 16) as i16));
        chunks(block, 8)
            .take(per_block / 8)
            .filter_map(|group| group.get(2 * (c % 4)..2 * (c % 4) + 2))
            .fold(0i32, |acc, pair| {
                pair.iter().fold(acc, |acc, &w| acc.wrapping_add(lanes(w)))
            })
    }

    #[inline(always)]
    fn block<'a>(&'a self, channels: [usize; 4], _: &'a mut ()) -> &'a [u32] {
        let per_block = self.block_words();
        let at = channels[0] / 4 * per_block;
        self.words.get(at..at + per_block).unwrap_or(&[])
    }

    #[inline(always)]
    fn dot4(x: &[i8], words: &&[u32]) -> [i32; 4] {
        D::dot4_widened(x, words)
    }

    #[inline(always)]
    fn dot4_rows(
        start: [i32; 4],
        x: &[i8],
        words: &&[u32],
        run: &RowRun,
        requants: &Requant4,
        output: &mut [i8],
    ) -> bool {
        D::dot4_widened_rows(start, x, words, run, requants, output)
    }
}
