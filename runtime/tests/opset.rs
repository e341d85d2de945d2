//! A runtime built with only some operators (cargo features) loads the models that use just
//! those, and names the first operator it lacks for any other, instead of failing to decode.
//! Run with every feature by the workspace tests, and with the int8 KWS set by the test script:
//! `cargo test -p whittle-runtime --no-default-features --features int8,conv,dense,pool,softmax --test opset`.

use whittle_runtime::format::{Header, OpDesc, PREAMBLE_LEN, Preamble};
use whittle_runtime::{LoadError, Model, OpFault};

#[repr(C, align(16))]
struct Aligned<B: ?Sized>(B);

/// A float model (convolutions, pooling, dense, softmax, transpose) the project ships.
static GESTURE: &Aligned<[u8]> = &Aligned(*include_bytes!(
    "../../tests/fixtures/gesture-cortex-m4f.wtl"
));

/// The index of the first operator this build cannot decode, found through the public format
/// types; `None` when every operator decodes. Every decoded operator must be one this build has.
fn first_missing_op(bytes: &[u8]) -> Option<u16> {
    let preamble = Preamble::parse(bytes).expect("preamble");
    let header_bytes = &bytes[PREAMBLE_LEN..PREAMBLE_LEN + preamble.header_len as usize];
    let header: Header<'_> = postcard::from_bytes(header_bytes).expect("header");
    for (index, op) in (0u16..).zip(header.ops.iter()) {
        let op: OpDesc = match op {
            Ok(op) => op,
            Err(_) => return Some(index),
        };
        let missing: Vec<_> = op
            .kind
            .required_features()
            .iter()
            .filter(|f| !f.enabled())
            .map(|f| f.name())
            .collect();
        assert!(
            missing.is_empty(),
            "operator {index} ({}) decoded without features {missing:?}",
            op.kind.name()
        );
    }
    None
}

#[test]
fn load_names_the_first_operator_left_out_of_the_build() {
    let bytes = &GESTURE.0;
    match first_missing_op(bytes) {
        None => {
            let model = Model::load(bytes).expect("every operator is compiled in");
            let features: Vec<_> = model
                .ops()
                .flat_map(|op| op.kind.required_features().iter().copied())
                .collect();
            assert!(features.iter().all(|f| f.enabled()));
        }
        Some(index) => assert_eq!(
            Model::load(bytes).err(),
            Some(LoadError::InvalidOp {
                index,
                fault: OpFault::NotCompiledIn
            })
        ),
    }
}

#[test]
fn a_float_model_needs_float_operators() {
    let float_ops = whittle_runtime::format::Feature::FLOAT.enabled()
        && ["conv", "dense", "pool", "softmax", "layout"]
            .iter()
            .all(|name| {
                whittle_runtime::format::Feature::ALL_FEATURES
                    .iter()
                    .any(|f| f.name() == *name && f.enabled())
            });
    assert_eq!(Model::load(&GESTURE.0).is_ok(), float_ops);
}
