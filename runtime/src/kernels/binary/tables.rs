//! int8 `Add`/`Sub` of operands with the output's shape, through tables: each operand's
//! rescaled term depends only on its int8 value, so the 256 terms of each operand are
//! computed once (by the reference's own [`term`](super::reference::term)) and looked up per
//! element. Only the final rescale is left per element, so the results are the reference's
//! bits. Worth it from [`MIN_LEN`] elements; the two tables take 2 KiB of stack, which is why
//! only 64-bit targets use them.

use super::QuantBinary;
use super::reference::{finish, term};
use crate::format::BinaryKindI8;
use crate::kernels::Src;

/// Fewest elements for which the tables pay for their 512 rescales.
pub(super) const MIN_LEN: usize = 1024;

/// `output = a <kind> b` for Add or Sub, element by element (no broadcasting); an operand in
/// place is read before its element is overwritten.
pub(super) fn add_sub_i8(p: &QuantBinary, a: Src<'_, i8>, b: Src<'_, i8>, output: &mut [i8]) {
    let [a_zp, b_zp, _] = p.zero_points;
    let negate = p.kind == BinaryKindI8::Sub;
    let mut a_terms = [0i32; 256];
    let mut b_terms = [0i32; 256];
    for (v, (ta, tb)) in (-128i8..=127).zip(a_terms.iter_mut().zip(b_terms.iter_mut())) {
        *ta = term(p, v, a_zp, p.a_scale);
        let t = term(p, v, b_zp, p.b_scale);
        *tb = if negate { t.wrapping_neg() } else { t };
    }
    #[cfg(whittle_avx2)]
    if super::avx2::add_sub_i8(p, &a_terms, &b_terms, a, b, output) {
        return;
    }
    for (i, y) in output.iter_mut().enumerate() {
        let read = |src: &Src<'_, i8>| match src {
            Src::Slice(s) => s.get(i).copied(),
            Src::Output => Some(*y),
        };
        let (Some(u), Some(v)) = (read(&a), read(&b)) else {
            return; // not with the lengths the caller checked
        };
        *y = finish(p, sum(&a_terms, &b_terms, u, v));
    }
}

/// The sum of the table entries of `u` and `v`.
#[inline(always)]
pub(super) fn sum(a_terms: &[i32; 256], b_terms: &[i32; 256], u: i8, v: i8) -> i32 {
    // Index of value `v` in the tables: `v + 128`.
    let at = |v: i8| usize::from((v as u8) ^ 0x80);
    let (Some(&x), Some(&y)) = (a_terms.get(at(u)), b_terms.get(at(v))) else {
        return 0; // never: a u8 indexes 256 entries
    };
    x.wrapping_add(y)
}
