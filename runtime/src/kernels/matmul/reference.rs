//! Scalar reference batched matrix product: the specification.

use crate::format::MAX_RANK;

const BATCH: usize = MAX_RANK - 2;

/// Shapes are padded to `MAX_RANK` and were checked by the caller.
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
        let a_mat = &a[a_off * m * k..];
        let b_mat = &b[b_off * k * n..];
        let out_mat = &mut output[batch * m * n..];
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f32;
                for p in 0..k {
                    acc += a_mat[i * k + p] * b_mat[p * n + j];
                }
                out_mat[i * n + j] = acc;
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
