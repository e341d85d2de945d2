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

/// A one-operator int8 model with sparse weights, written with the public format types: a
/// fully connected layer of 4 inputs and 2 outputs whose weights `[[3, 0, -2, 0], [0, 0, 0,
/// 5]]` are stored as values `[3, -2, 5]`, bitmap rows `0b0101` and `0b1000`, offsets
/// `[0, 2, 3]`; requantization by exactly 1.
fn sparse_dense_artifact() -> Vec<u8> {
    use whittle_runtime::DType;
    use whittle_runtime::format::{
        Buf, DenseI8, DenseI8Sparse, FORMAT_VERSION, IoDesc, OpKind, Requant, Section, Shape,
        SparseI8, TensorDesc, WEIGHT_ALIGN, WeightLayout,
    };
    fn encode<T: serde::Serialize>(items: &[T]) -> Vec<u8> {
        items
            .iter()
            .flat_map(|i| postcard::to_allocvec(i).unwrap())
            .collect()
    }
    let mut blob = vec![0u8; 80];
    blob[..3].copy_from_slice(&[3, (-2i8) as u8, 5]);
    blob[16..18].copy_from_slice(&[0b0101, 0b1000]);
    for (i, o) in [0u32, 2, 3].iter().enumerate() {
        blob[32 + 4 * i..36 + 4 * i].copy_from_slice(&o.to_le_bytes());
    }
    blob[48..52].copy_from_slice(&(1i32 << 30).to_le_bytes());
    blob[64] = 1;
    let (x, y) = (Buf::arena(0, 4), Buf::arena(16, 2));
    let op = OpKind::DenseI8Sparse(DenseI8Sparse {
        dense: DenseI8 {
            input: x,
            weights: Buf::weights(0, 3),
            bias: None,
            output: y,
            rows: 1,
            in_features: 4,
            out_features: 2,
            requant: Requant {
                multipliers: Buf::weights(48, 4),
                shifts: Buf::weights(64, 1),
            },
            input_zp: 0,
            output_zp: 0,
            act_min: -128,
            act_max: 127,
        },
        sparse: SparseI8 {
            bitmap: Buf::weights(16, 2),
            offsets: Buf::weights(32, 12),
        },
    });
    let tensor = |name, dims: &[u32], buf| TensorDesc {
        name,
        dtype: DType::I8,
        shape: Shape::new(dims).unwrap(),
        buf,
        quant: None,
    };
    let tensors = encode(&[tensor("x", &[1, 4], x), tensor("y", &[1, 2], y)]);
    let inputs = encode(&[IoDesc { tensor: 0 }]);
    let outputs = encode(&[IoDesc { tensor: 1 }]);
    let ops = encode(&[OpDesc {
        tensor: 1,
        kind: op,
    }]);
    let header = postcard::to_allocvec(&Header {
        producer: "test",
        target: "generic",
        layout: WeightLayout::Reference as u8,
        arena_bytes: 32,
        arena_lower_bound_bytes: 32,
        tensors: Section::from_encoded(2, &tensors),
        inputs: Section::from_encoded(1, &inputs),
        outputs: Section::from_encoded(1, &outputs),
        ops: Section::from_encoded(1, &ops),
        validation: None,
    })
    .unwrap();
    let weights_offset = (PREAMBLE_LEN + header.len()).next_multiple_of(WEIGHT_ALIGN);
    let total = weights_offset + blob.len() + 4;
    let preamble = Preamble {
        format_version: FORMAT_VERSION,
        flags: 0,
        header_len: header.len() as u32,
        weights_offset: weights_offset as u32,
        weights_len: blob.len() as u32,
        total_len: total as u32,
    };
    let mut out = preamble.to_bytes().to_vec();
    out.extend_from_slice(&header);
    out.resize(weights_offset, 0);
    out.extend_from_slice(&blob);
    let crc = whittle_runtime::crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[test]
fn sparse_weights_run_with_the_sparse_feature_and_are_named_without_it() {
    use whittle_runtime::Interpreter;
    use whittle_runtime::format::Feature;
    let bytes = sparse_dense_artifact();
    let mut storage = Aligned([0u8; 512]);
    storage.0[..bytes.len()].copy_from_slice(&bytes);
    let bytes = &storage.0[..bytes.len()];
    let sparse = [Feature::INT8, Feature::DENSE, Feature::SPARSE]
        .iter()
        .all(|f| f.enabled());
    if !sparse {
        assert_eq!(
            Model::load(bytes).err(),
            Some(LoadError::InvalidOp {
                index: 0,
                fault: OpFault::NotCompiledIn
            })
        );
        return;
    }
    let model = Model::load(bytes).unwrap();
    let mut arena = [0u8; 64];
    let mut it = Interpreter::new(&model, &mut arena).unwrap();
    it.input_mut::<i8>(0)
        .unwrap()
        .copy_from_slice(&[1, 2, 3, 4]);
    it.invoke().unwrap();
    // 3 * 1 - 2 * 3 = -3; 5 * 4 = 20.
    assert_eq!(it.output::<i8>(0).unwrap(), &[-3, 20]);
}
