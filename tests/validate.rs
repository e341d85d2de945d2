//! On-device validation, run on the host: the compiler embeds vectors, `validate` passes them
//! bit-exact, names the first diverging layer of a corrupted model, and refuses vectors that
//! do not fit the model.

use whittle::quantize::{Method, QuantizeOptions};
use whittle::{CompileOptions, Compiled, Tensor};
use whittle_runtime::format::{Preamble, Space};
use whittle_runtime::{
    AlignedBytes, CountUnit, Counter, Model, NoCounter, ValidateError, validate,
};
use whittle_tests::workspace_root;

fn gesture_data(split: &str) -> Tensor {
    let path = workspace_root().join(format!("examples/gesture/data/{split}.npz"));
    whittle::data::read_npz(&path)
        .expect("gesture data")
        .into_iter()
        .find(|(n, _)| n == "x")
        .map(|(_, t)| t)
        .expect("x")
}

fn gesture(int8: bool) -> Compiled {
    let opts = CompileOptions {
        quantize: int8.then(|| QuantizeOptions {
            calibration: vec![gesture_data("train")],
            method: Method::Mse,
            samples: Some(300),
            bias_correction: false,
            int8_io: false,
            keep_float: Vec::new(),
            calibrated: None,
        }),
        ..CompileOptions::default()
    };
    whittle::compile_path(
        &workspace_root().join("examples/gesture/gesture.onnx"),
        &opts,
    )
    .expect("compile the example")
}

fn with_vectors(c: &Compiled, n: usize) -> Vec<u8> {
    whittle::validate::embed(c, "generic", &[gesture_data("test")], n).expect("embed")
}

/// Counts invocations of `read` (two per inference): stands in for a board's counter.
struct Ticks(u64);

impl Counter for Ticks {
    fn read(&mut self) -> Option<u64> {
        self.0 += 1000;
        Some(self.0)
    }
    fn unit(&self) -> CountUnit {
        CountUnit::Instructions
    }
}

fn run_validation(
    artifact: &[u8],
) -> (
    Result<whittle_runtime::ValidationReport, ValidateError>,
    String,
) {
    let bytes = AlignedBytes::new(artifact);
    let model = Model::load(&bytes).expect("load");
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut text = String::new();
    let report = validate(&model, &mut arena, &mut text, &mut Ticks(0));
    (report, text)
}

#[test]
fn int8_and_float_models_validate_bit_exact() {
    for int8 in [true, false] {
        let c = gesture(int8);
        let artifact = with_vectors(&c, 8);
        let (report, text) = run_validation(&artifact);
        let report = report.expect("validation runs");
        assert!(report.passed(), "{text}");
        assert_eq!(report.vectors, 8);
        assert_eq!(report.elements, 8 * 5);
        assert_eq!((report.mismatches, report.max_error_lsb), (0, 0));
        assert_eq!(report.first_diverging_layer, None);
        assert_eq!(report.per_inference, Some(1000));
        assert!(
            text.contains("PASS") && text.contains("instructions per inference"),
            "{text}"
        );
        assert!(artifact.len() > c.artifact.len());
    }
}

#[test]
fn a_corrupted_weight_names_the_first_diverging_layer() {
    let c = gesture(true);
    let mut artifact = with_vectors(&c, 4);
    let bytes = AlignedBytes::new(&artifact);
    let model = Model::load(&bytes).expect("load");
    // The third operator that reads weights: flip one byte of its first weight buffer.
    let (index, buf) = model
        .ops()
        .enumerate()
        .filter_map(|(i, op)| {
            let mut kind = op.kind;
            let first = kind
                .buffers_mut()
                .find(|b| b.space == Space::Weights && b.bytes > 8)
                .copied();
            first.map(|b| (i, b))
        })
        .nth(2)
        .expect("three layers with weights");
    let name = {
        let op = model.ops().nth(index).expect("op");
        model
            .header()
            .tensors
            .get(op.tensor)
            .expect("tensor")
            .name
            .to_string()
    };
    let preamble = Preamble::parse(&artifact).expect("preamble");
    let at = preamble.weights_offset as usize + buf.offset as usize + 3;
    artifact[at] ^= 0x5a;
    // Keep the artifact loadable: the damage is in the weights, not the container.
    whittle::artifact::reseal(&mut artifact);

    let (report, text) = run_validation(&artifact);
    let report = report.expect("validation runs");
    assert!(!report.passed(), "{text}");
    assert_eq!(report.first_diverging_layer, Some(index as u16), "{text}");
    assert!(
        text.contains(&format!("#{index} '{name}'")) && text.contains("FAIL"),
        "{text}"
    );
}

#[test]
fn missing_or_ill_fitting_vectors_are_refused() {
    let c = gesture(true);
    let bytes = AlignedBytes::new(&c.artifact);
    let model = Model::load(&bytes).expect("load");
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    let mut text = String::new();
    assert_eq!(
        validate(&model, &mut arena, &mut text, &mut NoCounter),
        Err(ValidateError::NoVectors)
    );
    let mut data = whittle::validate::vectors(&c.artifact, &[gesture_data("test")], 2).unwrap();
    data.inputs.pop();
    let bad = whittle::artifact::write_with_validation(&c.program, &c.plan, "generic", Some(&data))
        .unwrap();
    let bytes = AlignedBytes::new(&bad);
    // The model itself is sound and runs; only validating it is refused.
    let model = Model::load(&bytes).expect("a model with damaged vectors still loads");
    assert_eq!(
        validate(&model, &mut arena, &mut text, &mut NoCounter),
        Err(ValidateError::BadVectors)
    );
    let err = whittle::validate::embed(&c, "generic", &[gesture_data("test")], 501).unwrap_err();
    assert!(err.to_string().contains("500 sample(s)"), "{err}");
}

/// A factory fixture's pass/fail line.
#[derive(Default)]
struct Pin {
    high: Option<bool>,
}

impl embedded_hal::digital::ErrorType for Pin {
    type Error = core::convert::Infallible;
}

impl embedded_hal::digital::OutputPin for Pin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        self.high = Some(false);
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        self.high = Some(true);
        Ok(())
    }
}

#[test]
fn the_pass_fail_pin_follows_the_report() {
    let c = gesture(true);
    let good = with_vectors(&c, 2);
    let mut bad = good.clone();
    // Damage the first expected output byte: the run now disagrees with it.
    let bytes = AlignedBytes::new(&good);
    let outputs = Model::load(&bytes)
        .expect("load")
        .header()
        .validation
        .expect("vectors")
        .outputs;
    let at =
        Preamble::parse(&bad).expect("preamble").weights_offset as usize + outputs.offset as usize;
    bad[at] ^= 1;
    whittle::artifact::reseal(&mut bad);
    for (artifact, pass) in [(&good, true), (&bad, false)] {
        let (report, text) = run_validation(artifact);
        let report = report.expect("validation runs");
        let mut pin = Pin::default();
        whittle_runtime::signal(&report, &mut pin).expect("infallible");
        assert_eq!(pin.high, Some(pass), "{text}");
    }
}
