//! Scalar reference batched matrix product: the specification.

use crate::format::MAX_RANK;
use crate::kernels::{chunks, chunks_mut};

const BATCH: usize = MAX_RANK - 2;

/// Shapes are padded to `MAX_RANK` and were checked by the caller (a read past the lengths
/// they imply would contribute nothing).
pub fn matmul_f32(
    a_dims: &[u32; MAX_RANK],
    b_dims: &[u32; MAX_RANK],
    out_dims: &[u32; MAX_RANK],
    a: &[f32],
    b: &[f32],
    output: &mut [f32],
) {
    let (m, k, n) = (
        a_dims[BATCH] as usize,
        a_dims[BATCH + 1] as usize,
        b_dims[BATCH + 1] as usize,
    );
    let batches: usize = out_dims[..BATCH].iter().map(|&d| d as usize).product();
    let mut index = [0usize; BATCH];
    for batch in 0..batches {
        // Offsets of this batch's matrices in `a` and `b`, with broadcasting.
        let (mut a_off, mut b_off) = (0usize, 0usize);
        for d in 0..BATCH {
            a_off = a_off * a_dims[d] as usize + if a_dims[d] == 1 { 0 } else { index[d] };
            b_off = b_off * b_dims[d] as usize + if b_dims[d] == 1 { 0 } else { index[d] };
        }
        let a_mat = a.get(a_off * m * k..).unwrap_or(&[]);
        let b_mat = b.get(b_off * k * n..).unwrap_or(&[]);
        let out_mat = output.get_mut(batch * m * n..).unwrap_or(&mut []);
        for (i, out_row) in chunks_mut(out_mat, n).take(m).enumerate() {
            let a_row = a_mat.get(i * k..(i + 1) * k).unwrap_or(&[]);
            for (j, out) in out_row.iter_mut().enumerate() {
                // Column `j` of `b`: element `j` of each of its rows of `n`.
                let b_col = chunks(b_mat, n).filter_map(|row| row.get(j));
                let mut acc = 0.0f32;
                for (&x, &w) in a_row.iter().zip(b_col) {
                    acc += x * w;
                }
                *out = acc;
            }
        }
        for d in (0..BATCH).rev() {
            index[d] += 1;
            if index[d] < out_dims[d] as usize {
                break;
            }
            index[d] = 0;
        }
    }
}
