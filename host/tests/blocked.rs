//! The `Blocked8` weight layout end to end: the gesture example compiled for `x86_64-avx2`
//! (packed float32 weights) and for `generic` (reference layout) gives the same output bits;
//! the packed artifact says so in its header, `export-onnx` reads its weights back unpacked,
//! a layout id the runtime does not know is refused on load, and so are weights whose lengths
//! do not fit the layout the header states.

use whittle::compile::{CompileOptions, compile, load_onnx};
use whittle::targets::Target;
use whittle_runtime::format::{OpKind, PREAMBLE_LEN, Space, WeightLayout};
use whittle_runtime::{AlignedBytes, Interpreter, LoadError, Model, OpFault};

fn gesture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture/gesture.onnx")
}

fn compiled_for(target: &str) -> Vec<u8> {
    let model = load_onnx(&gesture()).unwrap();
    let opts = CompileOptions {
        target: Target::resolve(target).unwrap(),
        ..CompileOptions::default()
    };
    compile(&model, None, &opts).unwrap().artifact
}

/// The model's first output for every input value drawn from `seed`, as bits.
fn outputs(artifact: &[u8], seeds: std::ops::Range<u64>) -> Vec<Vec<u32>> {
    let bytes = AlignedBytes::new(artifact);
    let model = Model::load(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut interp = Interpreter::new(&model, &mut arena).unwrap();
    seeds
        .map(|seed| {
            let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for v in interp.input_mut::<f32>(0).unwrap() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *v = (state >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0;
            }
            interp.invoke().unwrap();
            interp
                .output::<f32>(0)
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect()
}

#[test]
fn packed_and_reference_artifacts_compute_the_same_bits() {
    let packed = compiled_for("x86_64-avx2");
    let reference = compiled_for("generic");
    let packed_model = Model::load(&AlignedBytes::new(&packed)).unwrap().layout();
    let reference_model = Model::load(&AlignedBytes::new(&reference))
        .unwrap()
        .layout();
    assert_eq!(packed_model, WeightLayout::Blocked8);
    assert_eq!(reference_model, WeightLayout::Reference);

    // The example has float32 layers whose weights are packed (and so a different blob).
    let bytes = AlignedBytes::new(&packed);
    let model = Model::load(&bytes).unwrap();
    let packed_ops = model
        .ops()
        .filter(|op| match op.kind {
            OpKind::Conv2d(c) => c.weights.space == Space::Weights,
            OpKind::Dense(d) => d.weights.space == Space::Weights,
            _ => false,
        })
        .count();
    assert!(packed_ops > 0, "no packed layer in the example");
    assert_ne!(packed, reference);

    let a = outputs(&packed, 0..64);
    let b = outputs(&reference, 0..64);
    assert!(a.iter().all(|o| !o.is_empty()));
    assert_eq!(a, b);
}

#[test]
fn export_reads_packed_weights_back_in_the_reference_layout() {
    let graph = |artifact: &[u8]| {
        whittle::export::export(artifact)
            .unwrap()
            .model
            .graph
            .unwrap()
    };
    let (packed, reference) = (
        graph(&compiled_for("x86_64-avx2")),
        graph(&compiled_for("generic")),
    );
    assert!(!packed.initializer.is_empty());
    assert_eq!(packed.initializer, reference.initializer);
    assert_eq!(packed.node, reference.node);
}

/// `artifact` with its header's layout byte set to `id` (checked to be `was` first), resealed.
fn with_layout(mut artifact: Vec<u8>, target: &str, was: WeightLayout, id: u8) -> Vec<u8> {
    // The header starts with the producer and target strings (a one-byte length each, here),
    // then the layout byte.
    let producer = artifact[PREAMBLE_LEN] as usize;
    let at = PREAMBLE_LEN + 1 + producer;
    assert_eq!(&artifact[at + 1..at + 1 + target.len()], target.as_bytes());
    let layout = at + 1 + artifact[at] as usize;
    assert_eq!(artifact[layout], was as u8);
    artifact[layout] = id;
    whittle::artifact::reseal(&mut artifact);
    artifact
}

#[test]
fn an_unknown_layout_id_is_refused_on_load() {
    let packed = compiled_for("x86_64-avx2");
    let artifact = with_layout(packed, "x86_64-avx2", WeightLayout::Blocked8, 7);
    let err = Model::load(&AlignedBytes::new(&artifact)).unwrap_err();
    assert_eq!(err, LoadError::UnsupportedLayout { found: 7 });
}

#[test]
fn weights_of_the_wrong_layout_are_refused_on_load() {
    // The example has layers whose channel counts are not multiples of eight, so packed and
    // reference weights differ in length: the load-time check sees the mismatch either way.
    let wrong = |artifact, target, was, id| {
        let artifact = with_layout(artifact, target, was, id);
        match Model::load(&AlignedBytes::new(&artifact)) {
            Err(LoadError::InvalidOp { fault, .. }) => fault,
            other => panic!("{target} with layout {id}: {other:?}"),
        }
    };
    let packed = compiled_for("x86_64-avx2");
    let reference = compiled_for("generic");
    let fault = wrong(packed, "x86_64-avx2", WeightLayout::Blocked8, 0);
    assert_eq!(fault, OpFault::SizeMismatch);
    let fault = wrong(reference, "generic", WeightLayout::Reference, 1);
    assert_eq!(fault, OpFault::SizeMismatch);
}
