//! Int8 fully connected: every variant against the reference.

use super::*;

fn params() -> impl Strategy<Value = DenseCase> {
    (1u32..=3, 1u32..=70, 1u32..=40, any::<u8>(), any::<u64>())
        .prop_map(|(rows, i, o, style, seed)| DenseCase::random(rows, i, o, style, seed))
}

every_variant_matches_reference! {
    random: params(),
    edge_cases: {
        one_input_feature => DenseCase::random(1, 1, 5, 1, 1),
        features_not_a_multiple_of_four => DenseCase::random(2, 13, 7, 3, 2),
        keyword_spotting_classifier => DenseCase::random(1, 64, 12, 1, 3),
        accumulator_wraps => DenseCase::random(1, 64, 6, 6, 4),
        per_tensor_multiplier => DenseCase::random(3, 9, 9, 0, 5),
        no_input_features => DenseCase::random(2, 0, 3, 3, 6),
    }
}

#[test]
fn simd_tails() {
    for i in TAIL_CHANNELS.into_iter().chain([47, 64, 65, 255, 257]) {
        for o in TAIL_CHANNELS {
            assert_exact(
                &DenseCase::random(2, i, o, 1, u64::from(i * 100 + o)),
                |c, v| c.run(v),
            );
            for extreme in Extreme::ALL {
                assert_exact(&DenseCase::extreme(1, i, o, extreme), |c, v| c.run(v));
            }
        }
    }
}
