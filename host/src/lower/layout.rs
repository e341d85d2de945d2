//! Physical layouts: a permutation saying which logical axis each physical axis holds.
//! Convolutions and pooling run channels-last; everything else adapts, and a transpose is
//! emitted only where the bytes really move.

/// `[0, 1, .., rank-1]`.
pub fn identity(rank: usize) -> Vec<usize> {
    (0..rank).collect()
}

/// Channels-last for `[N, C, spatial..]`: `[0, 2, .., rank-1, 1]`.
pub fn channels_last(rank: usize) -> Vec<usize> {
    let mut perm = vec![0];
    perm.extend(2..rank);
    perm.push(1);
    perm
}

/// Physical dimensions of a logical `shape` stored with `perm`.
pub fn physical(shape: &[usize], perm: &[usize]) -> Vec<usize> {
    perm.iter().map(|&p| shape[p]).collect()
}

/// Inverse permutation.
pub fn inverse(perm: &[usize]) -> Vec<usize> {
    let mut inv = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inv[p] = i;
    }
    inv
}

/// Whether two layouts of the same logical shape have identical bytes: the non-unit axes
/// appear in the same order.
pub fn same_bytes(shape: &[usize], a: &[usize], b: &[usize]) -> bool {
    let order = |perm: &[usize]| {
        perm.iter()
            .copied()
            .filter(|&p| shape[p] != 1)
            .collect::<Vec<_>>()
    };
    order(a) == order(b)
}

/// Transpose permutation (over physical axes) that turns layout `from` into layout `to`.
pub fn conversion(from: &[usize], to: &[usize]) -> Vec<usize> {
    let inv = inverse(from);
    to.iter().map(|&logical| inv[logical]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_to_nhwc() {
        assert_eq!(channels_last(4), vec![0, 2, 3, 1]);
        assert_eq!(physical(&[1, 8, 5, 7], &channels_last(4)), vec![1, 5, 7, 8]);
        assert_eq!(
            conversion(&identity(4), &channels_last(4)),
            vec![0, 2, 3, 1]
        );
        assert_eq!(
            conversion(&channels_last(4), &identity(4)),
            vec![0, 3, 1, 2]
        );
    }

    #[test]
    fn unit_axes_do_not_move_bytes() {
        // [N, 1, H, W] (KWS after its reshape) is the same in NCHW and NHWC.
        assert!(same_bytes(&[1, 1, 49, 10], &identity(4), &channels_last(4)));
        assert!(same_bytes(&[1, 64, 1, 1], &identity(4), &channels_last(4)));
        assert!(!same_bytes(&[1, 3, 2, 2], &identity(4), &channels_last(4)));
    }
}
