//! Small shape helpers: axis normalization, broadcasting, slice clamping.

/// Normalizes a possibly negative axis for a tensor of `rank` dimensions.
pub fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} out of range for rank {rank}"))
    }
}

/// Element count of a shape, `None` on overflow.
pub fn checked_product(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// NumPy broadcast of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let rank = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() >= rank {
            s[i + s.len() - rank]
        } else {
            1
        }
    };
    (0..rank)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
        })
        .collect()
}

/// ONNX Slice start/end clamping for a unit step: `[start, end)` within `0..size`.
pub fn clamp_slice(start: i64, end: i64, size: usize) -> (usize, usize) {
    let n = size as i64;
    let fix = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n);
    let (s, e) = (fix(start), fix(end));
    (s as usize, e.max(s) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast(&[2, 1, 3], &[4, 1]).unwrap(), vec![2, 4, 3]);
        assert_eq!(broadcast(&[], &[5]).unwrap(), vec![5]);
        assert!(broadcast(&[2, 3], &[3, 2]).is_err());
    }

    #[test]
    fn slices_clamp_like_onnx() {
        assert_eq!(clamp_slice(1, i64::MAX, 5), (1, 5));
        assert_eq!(clamp_slice(-2, -1, 5), (3, 4));
        assert_eq!(clamp_slice(4, 2, 5), (4, 4));
    }
}
