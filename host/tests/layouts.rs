//! The weight layouts end to end. `Blocked8`: the gesture example compiled for `x86_64-avx2`
//! (packed float32 weights) and for `generic` (reference layout) gives the same output bits.
//! `Widened4`: the example quantized to int8 and compiled for `cortex-m4f` (widened int8
//! convolution weights) and for `generic` gives the same output bits. Each packed artifact says
//! so in its header, `export-onnx` reads its weights back in the reference layout, a layout id
//! the runtime does not know is refused on load, and so are weights whose lengths do not fit
//! the layout the header states. A model the layout packs nothing of is written in the
//! reference layout.

use whittle::compile::{CompileOptions, compile, load_onnx};
use whittle::quantize::{Method, QuantizeOptions};
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

/// The example quantized to int8 (float32 input and output), compiled for `target`.
fn int8_for(target: &str) -> Vec<u8> {
    int8_with(Target::resolve(target).unwrap()).unwrap()
}

/// The example quantized to int8, compiled for `target`.
fn int8_with(target: Target) -> Result<Vec<u8>, whittle::error::CompileError> {
    let model = load_onnx(&gesture()).unwrap();
    let calibration = gesture().with_file_name("data/train.npz");
    let x = whittle::data::read_arrays(&calibration)
        .unwrap()
        .into_iter()
        .find(|(name, _)| name == "x")
        .unwrap()
        .1;
    let opts = CompileOptions {
        target,
        quantize: Some(QuantizeOptions {
            calibration: vec![x],
            method: Method::Mse,
            samples: None,
            bias_correction: false,
            int8_io: false,
            keep_float: Vec::new(),
            calibrated: None,
        }),
        ..CompileOptions::default()
    };
    Ok(compile(&model, None, &opts)?.artifact)
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

/// Both artifacts give the same, non-empty output bits on 64 inputs.
fn assert_same_outputs(packed: &[u8], reference: &[u8]) {
    let a = outputs(packed, 0..64);
    let b = outputs(reference, 0..64);
    assert!(a.iter().all(|o| !o.is_empty()));
    assert_eq!(a, b);
}

/// `export-onnx` gives both artifacts the same initializers (some) and nodes.
fn assert_exports_alike(packed: &[u8], reference: &[u8]) {
    let graph = |artifact: &[u8]| {
        whittle::export::export(artifact)
            .unwrap()
            .model
            .graph
            .unwrap()
    };
    let (packed, reference) = (graph(packed), graph(reference));
    assert!(!packed.initializer.is_empty());
    assert_eq!(packed.initializer, reference.initializer);
    assert_eq!(packed.node, reference.node);
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

    assert_same_outputs(&packed, &reference);
}

#[test]
fn export_reads_packed_weights_back_in_the_reference_layout() {
    assert_exports_alike(&compiled_for("x86_64-avx2"), &compiled_for("generic"));
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

/// The fault `Model::load` finds in `artifact` once its header names layout `id`.
fn load_fault(artifact: Vec<u8>, target: &str, was: WeightLayout, id: u8) -> OpFault {
    let artifact = with_layout(artifact, target, was, id);
    match Model::load(&AlignedBytes::new(&artifact)) {
        Err(LoadError::InvalidOp { fault, .. }) => fault,
        other => panic!("{target} with layout {id}: {other:?}"),
    }
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
    let packed = compiled_for("x86_64-avx2");
    let reference = compiled_for("generic");
    let fault = load_fault(packed, "x86_64-avx2", WeightLayout::Blocked8, 0);
    assert_eq!(fault, OpFault::SizeMismatch);
    let fault = load_fault(reference, "generic", WeightLayout::Reference, 1);
    assert_eq!(fault, OpFault::SizeMismatch);
}

#[test]
fn widened_and_reference_int8_artifacts_compute_the_same_bits() {
    let widened = int8_for("cortex-m4f");
    let reference = int8_for("generic");
    let bytes = AlignedBytes::new(&widened);
    let model = Model::load(&bytes).unwrap();
    assert_eq!(model.layout(), WeightLayout::Widened4);
    let widened_ops = model
        .ops()
        .filter(|op| match op.kind {
            OpKind::Conv2dI8(c) => model.layout().widens(&c.geom, c.weights),
            _ => false,
        })
        .count();
    assert!(widened_ops > 0, "no widened layer in the example");
    assert!(widened.len() > reference.len());
    assert_same_outputs(&widened, &reference);
}

#[test]
fn export_reads_widened_weights_back_in_the_reference_layout() {
    assert_exports_alike(&int8_for("cortex-m4f"), &int8_for("generic"));
}

#[test]
fn int8_weights_of_the_wrong_layout_are_refused_on_load() {
    // Widened weights take about twice the bytes of int8 ones.
    let widened = int8_for("cortex-m4f");
    let reference = int8_for("generic");
    let wrong = load_fault(widened, "cortex-m4f", WeightLayout::Widened4, 0);
    assert_eq!(wrong, OpFault::SizeMismatch);
    let wrong = load_fault(reference, "generic", WeightLayout::Reference, 2);
    assert!(
        matches!(wrong, OpFault::SizeMismatch | OpFault::Misaligned),
        "{wrong:?}"
    );
}

/// A board with the DSP extension, `flash` bytes of flash and the given layout.
fn board(layout: &str, flash: usize) -> Target {
    Target::from_toml(&format!(
        "name='board'\ndescription=''\ntriple='thumbv7em-none-eabihf'\nisa='armv7e-m'\n\
         features=['dsp']\nalignment=4\nweight_layout='{layout}'\nflash_bytes={flash}\n"
    ))
    .unwrap()
}

#[test]
fn the_reference_layout_is_kept_when_widened_weights_overflow_the_flash() {
    let reference = int8_with(board("reference", 1 << 20)).unwrap();
    let widened = int8_with(board("widened4", 1 << 20)).unwrap();
    let layout = |a: &[u8]| Model::load(&AlignedBytes::new(a)).unwrap().layout();
    assert_eq!(layout(&widened), WeightLayout::Widened4);
    assert!(widened.len() > reference.len());
    // Room for the reference artifact only: the compiler writes that one.
    let fallback = int8_with(board("widened4", reference.len())).unwrap();
    assert_eq!(layout(&fallback), WeightLayout::Reference);
    assert_eq!(fallback, reference);
    // Room for neither: the error says by how much the smaller one is over.
    let err = int8_with(board("widened4", reference.len() - 1)).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("1 more than"), "{text}");
}

#[test]
fn a_model_the_target_layout_packs_nothing_of_is_written_in_the_reference_layout() {
    // `widened4` covers int8 convolutions only: the float example keeps the reference
    // layout, so a runtime built without the DSP kernels loads it too.
    let float = compiled_for("cortex-m4f");
    let model_layout = Model::load(&AlignedBytes::new(&float)).unwrap().layout();
    assert_eq!(model_layout, WeightLayout::Reference);
    let int8 = int8_for("cortex-m4f");
    let model_layout = Model::load(&AlignedBytes::new(&int8)).unwrap().layout();
    assert_eq!(model_layout, WeightLayout::Widened4);
}
