//! Int8 convolutions over widened weights (`WeightLayout::Widened4`): every variant equals the
//! reference over the reference weights, bit for bit, for every geometry the layout covers;
//! the geometries it does not cover are refused.

use super::*;
use whittle_runtime::kernels::conv::{
    conv2d_i8_widened_variant, pack_widened, unpack_widened, widened_len, widens,
};

/// The case's weights widened.
fn widened(case: &ConvCase) -> Vec<u32> {
    let mut words = vec![0xDEAD_BEEF; widened_len(&case.geom).expect("a covered geometry")];
    pack_widened(&case.geom, &case.weights, &mut words).expect("consistent lengths");
    words
}

/// `case` through the widened kernels of `variant`.
fn run_widened(case: &ConvCase, words: &[u32], variant: Variant) -> Vec<i8> {
    let g = &case.geom;
    let mut out = vec![0x55; (g.batch * g.out_h * g.out_w * g.out_c) as usize];
    conv2d_i8_widened_variant(
        variant,
        g,
        &case.quant.out(),
        &case.input,
        words,
        case.quant.bias.as_deref(),
        &mut out,
    )
    .expect("consistent lengths");
    out
}

/// Every variant over the widened weights gives the reference's bits; unpacking gives the
/// weights back.
fn assert_widened_exact(case: &ConvCase) {
    let words = widened(case);
    let mut back = vec![0i8; case.weights.len()];
    unpack_widened(&case.geom, &words, &mut back).unwrap();
    assert_eq!(back, case.weights, "unpacking {case:?}");
    let expected = case.run(Variant::Reference);
    for &variant in Variant::ALL {
        let got = run_widened(case, &words, variant);
        assert!(
            got == expected,
            "widened {variant:?} differs from the reference\n got {got:?}\nwant {expected:?}\n{case:?}"
        );
    }
}

/// A geometry the layout does not cover has no widened length and the kernel refuses it.
fn assert_refused(case: &ConvCase) {
    assert!(widened_len(&case.geom).is_err(), "{:?}", case.geom);
    let mut out = vec![0; case.geom.out_c as usize];
    let result = conv2d_i8_widened_variant(
        Variant::selected(),
        &case.geom,
        &case.quant.out(),
        &case.input,
        &[0; 64],
        case.quant.bias.as_deref(),
        &mut out,
    );
    assert!(result.is_err(), "{:?}", case.geom);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]
    /// One-group convolutions of every shape; a quarter pointwise (see `params`).
    #[test]
    fn random_one_group_cases(case in params_one_group()) {
        if widens(&case.geom) {
            assert_widened_exact(&case);
        } else {
            assert_refused(&case);
        }
    }
}

fn params_one_group() -> impl Strategy<Value = ConvCase> {
    super::conv::params_with(Some(0))
}

#[test]
fn covered_geometries() {
    let covered = [
        // Pointwise: no limit on the filter length, channels not a multiple of four.
        geom([2, 2, 257], [2, 2, 9], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([5, 3, 7], [5, 3, 11], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([1, 1, 1], [1, 1, 2], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        // Gathered: filters of 40 (the keyword-spotting first layer), 255 and 256 values.
        geom(
            [49, 10, 1],
            [25, 5, 8],
            [10, 4],
            [2, 2],
            [1, 1],
            [4, 1, 5, 1],
            1,
        ),
        geom(
            [4, 4, 85],
            [2, 2, 6],
            [1, 3],
            [2, 1],
            [1, 1],
            [0, 1, 0, 1],
            1,
        ),
        geom(
            [4, 4, 16],
            [4, 4, 5],
            [4, 4],
            [1, 1],
            [1, 1],
            [1, 1, 2, 2],
            1,
        ),
        // Pointwise with a stride runs the gathered path.
        geom([5, 5, 6], [3, 3, 5], [1, 1], [2, 2], [1, 1], [0; 4], 1),
        geom(
            [6, 5, 2],
            [6, 5, 3],
            [3, 3],
            [1, 1],
            [2, 3],
            [2, 3, 2, 3],
            1,
        ),
    ];
    for (k, g) in covered.into_iter().enumerate() {
        assert!(widens(&g), "{g:?}");
        assert_widened_exact(&ConvCase::random(g, 3, k as u64));
        for extreme in Extreme::ALL {
            assert_widened_exact(&ConvCase::extreme(g, extreme, k as u64));
        }
    }
}

#[test]
fn uncovered_geometries_are_refused() {
    let uncovered = [
        // Two groups, depthwise (one channel in and out is depthwise too), and a filter of
        // 261 values (past the gathered column).
        geom([4, 4, 6], [4, 4, 10], [3, 3], [1, 1], [1, 1], [1; 4], 2),
        geom([5, 4, 8], [5, 4, 8], [3, 3], [1, 1], [1, 1], [1; 4], 8),
        geom([1, 1, 1], [1, 1, 1], [1, 1], [1, 1], [1, 1], [0; 4], 1),
        geom([5, 4, 29], [5, 4, 7], [3, 3], [1, 1], [1, 1], [1; 4], 1),
    ];
    for (k, g) in uncovered.into_iter().enumerate() {
        assert!(!widens(&g), "{g:?}");
        assert_refused(&ConvCase::random(g, 1, k as u64));
    }
}

/// The loader asks about geometries before checking any length: sizes whose product
/// overflows are simply not covered.
#[test]
fn overflowing_geometries_are_not_covered() {
    let huge = geom(
        [1, 1, u32::MAX],
        [1, 1, 8],
        [u32::MAX, u32::MAX],
        [1, 1],
        [1, 1],
        [0; 4],
        1,
    );
    assert!(!widens(&huge));
    assert!(widened_len(&huge).is_err());
}

/// The widened words follow the documented layout: per block of four channels and group of
/// four values, each channel's lanes `(w0, w2)` then `(w1, w3)`; zeros past the filter and the
/// last channel.
#[test]
fn the_layout_is_the_documented_one() {
    // Five channels of six values each: two blocks of two groups.
    let g = geom([1, 1, 6], [1, 1, 5], [1, 1], [1, 1], [1, 1], [0; 4], 1);
    let weights: Vec<i8> = (0..30).map(|v| v as i8 - 15).collect();
    let mut words = vec![0; widened_len(&g).unwrap()];
    assert_eq!(words.len(), 2 * 2 * 8);
    pack_widened(&g, &weights, &mut words).unwrap();
    let pair = |lo: i8, hi: i8| u32::from(lo as i16 as u16) | (u32::from(hi as i16 as u16) << 16);
    let w = |c: usize, i: usize| {
        if i < 6 && c < 5 {
            weights[c * 6 + i]
        } else {
            0
        }
    };
    for (at, &word) in words.iter().enumerate() {
        let (block, group, lane, odd) = (at / 16, at / 8 % 2, at / 2 % 4, at % 2);
        let (c, i) = (4 * block + lane, 4 * group + odd);
        assert_eq!(word, pair(w(c, i), w(c, i + 2)), "word {at}");
    }
}
