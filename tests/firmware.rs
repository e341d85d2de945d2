//! The example firmwares on emulated boards: the gesture model compiled for each board, the
//! firmware built with it (`examples/firmware-*`, each its own package) and run on QEMU, its
//! printed classes compared with the host runtime's for the same artifact and inputs.
//!
//! Needs QEMU (`qemu-system-arm`, `qemu-system-riscv32`) and the three Rust targets; the
//! test setup (`tests/run.sh`, `tests/setup-emulators.sh`) installs them, and a missing one
//! fails the test. `--nocapture` shows each board's instructions per inference and image size.

#[path = "firmware/qemu.rs"]
mod qemu;

use object::{Object, ObjectSymbol};
use qemu::{
    Board, Linking, M3, M4F, Outcome, RISCV, build_linked, emulate, emulate_loading, image_size,
    run_firmware,
};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use whittle::quantize::{Method, QuantizeOptions};
use whittle::run::Runner;
use whittle::targets::Target;
use whittle::{CompileOptions, ElemType, Tensor};
use whittle_runtime::{AlignedBytes, DType, Model};
use whittle_tests::workspace_root;

/// How the model is compiled for a run.
#[derive(Clone, Copy, PartialEq)]
enum Precision {
    Float,
    /// int8 with float inputs and outputs, quantized at the boundary.
    Int8,
    /// int8 with int8 inputs and outputs: no float anywhere.
    Int8Io,
}

fn gesture() -> PathBuf {
    workspace_root().join("examples/gesture")
}

/// Validation vectors embedded in every firmware's model: the first test windows.
const VALIDATION_VECTORS: usize = 8;

/// The gesture model compiled for `board` at `precision`, with [`VALIDATION_VECTORS`]
/// validation vectors from the test set embedded.
fn compile(board: &Board, precision: Precision) -> Vec<u8> {
    let quantize = (precision != Precision::Float).then(|| {
        let train = whittle::data::read_npz(&gesture().join("data/train.npz")).expect("train.npz");
        let x = train
            .into_iter()
            .find(|(name, _)| name == "x")
            .map(|(_, t)| t.cast(ElemType::F32))
            .expect("train.npz holds x");
        QuantizeOptions {
            calibration: vec![x],
            method: Method::Mse,
            samples: None,
            bias_correction: false,
            int8_io: precision == Precision::Int8Io,
            keep_float: Vec::new(),
            calibrated: None,
        }
    });
    let opts = CompileOptions {
        target: Target::resolve(board.profile).expect("built-in target"),
        quantize,
        ..Default::default()
    };
    let compiled = whittle::compile_path(&gesture().join("gesture.onnx"), &opts)
        .expect("compile the gesture model");
    let test = whittle::data::read_npz(&gesture().join("data/test.npz")).expect("test.npz");
    let x = test
        .into_iter()
        .find(|(name, _)| name == "x")
        .map(|(_, t)| t.cast(ElemType::F32))
        .expect("test.npz holds x");
    whittle::validate::embed(&compiled, board.profile, &[x], VALIDATION_VECTORS)
        .expect("embed the validation vectors")
}

/// The eight recorded windows of `sample.npy`, as float32.
fn samples() -> Tensor {
    whittle::data::read_npy(&gesture().join("sample.npy"))
        .expect("sample.npy")
        .cast(ElemType::F32)
}

/// `x` as raw little-endian bytes of the artifact's input type, converted exactly as
/// `whittle run` does (float as is; int8 quantized with the input's scale and zero point).
fn input_bytes(artifact: &[u8], x: &Tensor) -> Vec<u8> {
    let aligned = AlignedBytes::new(artifact);
    let model = Model::load(&aligned).expect("load the artifact");
    let desc = model.input(0).expect("input 0");
    whittle::run::input_bytes(x, &desc).expect("convert the inputs")
}

/// Index of the largest value of each row of `scores` (the first one on ties, floats in
/// `total_cmp` order: what the firmware computes).
fn argmax_rows(scores: &Tensor) -> Vec<usize> {
    let classes = *scores.shape.last().expect("a ranked output");
    scores
        .to_f32()
        .chunks(classes)
        .map(|row| {
            let mut best = 0;
            for (i, v) in row.iter().enumerate() {
                if v.total_cmp(&row[best]).is_gt() {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// The host runtime's classes for `x` through `artifact`.
fn host_classes(artifact: &[u8], x: &Tensor) -> Vec<usize> {
    let outputs = Runner::new(artifact)
        .expect("load on the host")
        .run(std::slice::from_ref(x))
        .expect("run on the host");
    argmax_rows(&outputs[0])
}

/// `examples/gesture/sample_labels.txt` as indices into `classes.txt`.
fn recorded_classes() -> Vec<usize> {
    let read = |name: &str| std::fs::read_to_string(gesture().join(name)).expect(name);
    let classes = read("classes.txt");
    let classes: Vec<&str> = classes.lines().map(str::trim).collect();
    read("sample_labels.txt")
        .lines()
        .map(|label| {
            classes
                .iter()
                .position(|c| *c == label.trim())
                .unwrap_or_else(|| panic!("label {label} is not in classes.txt"))
        })
        .collect()
}

/// Runs one board end to end and checks it against the host; returns what the firmware did.
fn check_board(board: &Board, case: &str, precision: Precision) -> Outcome {
    let artifact = compile(board, precision);
    let x = samples();
    let expected = host_classes(&artifact, &x);
    let aligned = AlignedBytes::new(&artifact);
    let model = Model::load(&aligned).expect("load");
    let io = [model.input(0), model.output(0)].map(|d| d.expect("input and output 0").dtype);
    let want = match precision {
        Precision::Int8Io => DType::I8,
        Precision::Float | Precision::Int8 => DType::F32,
    };
    assert_eq!(io, [want, want], "{case}: input and output types");
    let arena = model.arena_bytes();
    let outcome = run_firmware(board, case, &artifact, &input_bytes(&artifact, &x), arena);
    assert_eq!(
        outcome.status,
        Some(0),
        "{case}: the firmware failed:\n{}",
        outcome.output
    );
    assert_eq!(
        outcome.classes, expected,
        "{case}: the firmware's classes differ from the host runtime's:\n{}",
        outcome.output
    );
    for line in [
        "integrity: ok (CRC-32, SHA-256)",
        "whittle validate: 8 vector(s)",
        "checksums match",
        "PASS: 0 of 40 output elements differ, max error 0 LSB",
    ] {
        assert!(
            outcome.output.contains(line),
            "{case}: the boot validation did not report '{line}':\n{}",
            outcome.output
        );
    }
    let instructions = outcome
        .instructions
        .unwrap_or_else(|| panic!("{case}: no instruction count:\n{}", outcome.output));
    // The per-layer profile covers every operator and adds up to the inference (each layer's
    // count is rounded to the counter's resolution and includes one counter read).
    assert_eq!(
        outcome.layers.len(),
        model.ops().count(),
        "{case}: not one profile line per layer:\n{}",
        outcome.output
    );
    let profiled: u64 = outcome.layers.iter().sum();
    assert!(
        profiled.abs_diff(instructions) <= instructions / 100,
        "{case}: the layers add up to {profiled} instructions, the inference {instructions}:\n{}",
        outcome.output
    );
    let (text, data, bss) = image_size(&outcome.image);
    let stack = outcome
        .stack
        .unwrap_or_else(|| panic!("{case}: no stack high-water mark:\n{}", outcome.output));
    println!(
        "{case}: {} samples match the host; {instructions} instructions per inference; \
         model {} bytes; image text {text}, data {data}, bss {bss} bytes; stack peak {stack} \
         bytes",
        expected.len(),
        artifact.len()
    );
    assert_eq!(
        verdict(&outcome.output),
        "self-test: PASS vectors=8",
        "{case}: the verdict is not the last line:\n{}",
        outcome.output
    );
    outcome
}

/// The last line a firmware printed: its verdict for the factory station.
fn verdict(output: &str) -> &str {
    output.lines().last().unwrap_or_default()
}

/// The classes a firmware printed (`sample <i>: class <k>` lines), in order.
fn printed_classes(output: &str) -> Vec<usize> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix("sample ")?.split_once(": class "))
        .map(|(_, k)| k.trim().parse().expect("a class"))
        .collect()
}

/// Runs an M4F `image` with QEMU tracing the writes to the board's FPGA IO block
/// (`-trace mps2_fpgaio_write`, logged to `<image>.trace` by `-D`): the status, the output
/// and every value written to the LED register (offset 0), in order. LED0 (bit 0) is the
/// firmware's pass/fail line.
fn emulate_with_led_trace(image: &Path) -> (Option<i32>, String, Vec<u32>) {
    let trace = image.with_extension("trace");
    let _ = std::fs::remove_file(&trace);
    let load = [
        OsStr::new("-trace"),
        OsStr::new("mps2_fpgaio_write"),
        OsStr::new("-D"),
        trace.as_os_str(),
        OsStr::new("-kernel"),
        image.as_os_str(),
    ];
    let (status, output) = emulate_loading(&M4F, &load, &image.with_extension("led.out"));
    let log = std::fs::read_to_string(&trace).unwrap_or_default();
    // "mps2_fpgaio_write MPS2 FPGAIO write: offset 0x0 data 0x1 size 4"
    let hex = |line: &str, key: &str| {
        let rest = line.split(key).nth(1)?.split_whitespace().next()?;
        u64::from_str_radix(rest.trim_start_matches("0x"), 16).ok()
    };
    let leds = log
        .lines()
        .filter(|l| l.contains("mps2_fpgaio_write"))
        .filter_map(|l| Some((hex(l, "offset ")?, hex(l, "data ")?)))
        .filter(|&(offset, _)| offset == 0)
        .map(|(_, data)| data as u32)
        .collect();
    (status, output, leds)
}

/// The `nth` operator (from 0) that reads more than 8 bytes of weights: its index, the name
/// of its output tensor (what the firmware names it by) and where in `artifact` its weights
/// start.
fn weighted_layer(artifact: &[u8], nth: usize) -> (usize, String, usize) {
    let aligned = AlignedBytes::new(artifact);
    let model = Model::load(&aligned).expect("load");
    let (index, offset) = model
        .ops()
        .enumerate()
        .filter_map(|(i, op)| {
            let mut kind = op.kind;
            let weights = kind
                .buffers_mut()
                .find(|b| b.space == whittle_runtime::format::Space::Weights && b.bytes > 8)
                .map(|b| b.offset);
            weights.map(|w| (i, w))
        })
        .nth(nth)
        .expect("enough layers with weights");
    let name = model
        .ops()
        .nth(index)
        .and_then(|op| model.header().tensors.get(op.tensor))
        .expect("the layer's tensor")
        .name
        .to_string();
    let weights_at = whittle_runtime::format::Preamble::parse(artifact)
        .expect("preamble")
        .weights_offset as usize;
    (index, name, weights_at + offset as usize)
}

#[test]
fn m4f_float_matches_host_and_labels() {
    let outcome = check_board(&M4F, "m4f", Precision::Float);
    assert_eq!(
        outcome.classes,
        recorded_classes(),
        "float classes vs sample_labels.txt"
    );
}

/// Also the pass/fail line: LED0 of the board's FPGA IO block, last written high.
#[test]
fn m4f_int8_matches_host_and_drives_the_pass_led() {
    let outcome = check_board(&M4F, "m4f-int8", Precision::Int8);
    let (status, output, leds) = emulate_with_led_trace(&outcome.image);
    assert_eq!(status, Some(0), "{output}");
    assert_eq!(verdict(&output), "self-test: PASS vectors=8", "{output}");
    let last = leds
        .last()
        .expect("the firmware never wrote the LED register");
    assert_eq!(
        last & 1,
        1,
        "LED0 is not high after a pass: writes {leds:x?}"
    );
}

#[test]
fn m3_int8_io_matches_host() {
    check_board(&M3, "m3", Precision::Int8Io);
}

#[test]
fn riscv_int8_io_matches_host() {
    check_board(&RISCV, "riscv", Precision::Int8Io);
}

#[test]
fn corrupted_model_fails_with_the_load_error() {
    let mut artifact = compile(&M3, Precision::Int8Io);
    let x = samples();
    let inputs = input_bytes(&artifact, &x);
    let arena = Model::load(&AlignedBytes::new(&artifact))
        .expect("load")
        .arena_bytes();
    let middle = artifact.len() / 2;
    artifact[middle] ^= 0xFF;
    let outcome = run_firmware(&M3, "m3-corrupt", &artifact, &inputs, arena);
    assert_eq!(
        outcome.status,
        Some(1),
        "a corrupted model must fail with status 1:\n{}",
        outcome.output
    );
    assert!(
        outcome
            .output
            .contains("error: cannot load model: artifact corrupted"),
        "the load error is not printed:\n{}",
        outcome.output
    );
    assert!(
        outcome
            .output
            .contains("integrity: FAIL (artifact corrupted")
            && verdict(&outcome.output).starts_with("self-test: FAIL integrity layer="),
        "no integrity verdict:\n{}",
        outcome.output
    );
    assert!(outcome.classes.is_empty(), "{}", outcome.output);
}

/// One weight byte flipped on the way to flash, the artifact not resealed: the CRC-32 (and,
/// with the CRC-32 patched up, the SHA-256 digest) catches it at load; the validation vectors
/// run on the damaged artifact name the layer; no example runs; LED0 ends low.
#[test]
fn m4f_flipped_weight_fails_integrity_naming_the_layer() {
    let artifact = compile(&M4F, Precision::Int8);
    let x = samples();
    let inputs = input_bytes(&artifact, &x);
    let arena = Model::load(&AlignedBytes::new(&artifact))
        .expect("load")
        .arena_bytes();
    let (index, name, at) = weighted_layer(&artifact, 1);
    let mut flipped = artifact.clone();
    flipped[at + 1] ^= 0x40;
    // The same flip with the CRC-32 recomputed: only the digest can tell.
    let mut crc_patched = flipped.clone();
    let body = crc_patched.len() - 4;
    let crc = whittle_runtime::crc32(&crc_patched[..body]);
    crc_patched[body..].copy_from_slice(&crc.to_le_bytes());
    for (case, damaged, check) in [
        (
            "m4f-flipped",
            &flipped,
            "integrity: FAIL (artifact corrupted: CRC-32 stored",
        ),
        (
            "m4f-flipped-crc",
            &crc_patched,
            "integrity: FAIL (artifact corrupted: its SHA-256 digest does not match",
        ),
    ] {
        let image = build_linked(&M4F, case, damaged, &inputs, arena, Linking::Included);
        let (status, output, leds) = emulate_with_led_trace(&image);
        assert_eq!(
            status,
            Some(1),
            "{case}: must fail with status 1:\n{output}"
        );
        for line in [
            check,
            &format!("layers: first diverging layer #{index} '{name}'"),
            "error: cannot load model: artifact corrupted",
        ] {
            assert!(output.contains(line), "{case}: no '{line}':\n{output}");
        }
        assert_eq!(
            verdict(&output),
            format!("self-test: FAIL integrity layer={index} '{name}'"),
            "{case}: the verdict is not the last line:\n{output}"
        );
        assert!(
            printed_classes(&output).is_empty(),
            "{case}: examples ran after a failed integrity check:\n{output}"
        );
        let last = leds
            .last()
            .expect("the firmware never wrote the LED register");
        assert_eq!(last & 1, 0, "{case}: LED0 is not low: writes {leds:x?}");
    }
}

#[test]
fn damaged_weights_fail_validation_naming_the_first_diverging_layer() {
    let mut artifact = compile(&RISCV, Precision::Int8Io);
    let x = samples();
    let inputs = input_bytes(&artifact, &x);
    let arena = Model::load(&AlignedBytes::new(&artifact))
        .expect("load")
        .arena_bytes();
    // The second operator that reads weights gets one weight byte changed; the container stays
    // valid (CRC-32 and digest recomputed), as after a bit flip in flash that a checksum-less
    // copy missed.
    let (index, name, at) = weighted_layer(&artifact, 1);
    artifact[at + 1] ^= 0x40;
    whittle::artifact::reseal(&mut artifact);
    let outcome = run_firmware(&RISCV, "riscv-damaged", &artifact, &inputs, arena);
    assert_eq!(outcome.status, Some(1), "{}", outcome.output);
    let expected = format!("layers: first diverging layer #{index} '{name}'");
    assert!(
        outcome.output.contains(&expected) && outcome.output.contains("FAIL"),
        "the report does not name layer #{index} '{name}':\n{}",
        outcome.output
    );
    let prefix = format!("self-test: FAIL validation layer={index} '{name}' mismatches=");
    let line = verdict(&outcome.output);
    assert!(
        line.strip_prefix(&prefix)
            .is_some_and(|n| n.parse::<u32>().is_ok()),
        "the verdict is not '{prefix}<n>':\n{}",
        outcome.output
    );
    assert!(
        outcome.classes.is_empty(),
        "inference ran after a failed validation"
    );
}

#[test]
fn m4f_runs_the_model_linked_from_an_emitted_object() {
    let artifact = compile(&M4F, Precision::Int8);
    let x = samples();
    let expected = host_classes(&artifact, &x);
    let arena = Model::load(&AlignedBytes::new(&artifact))
        .expect("load")
        .arena_bytes();
    let image = build_linked(
        &M4F,
        "m4f-linked",
        &artifact,
        &input_bytes(&artifact, &x),
        arena,
        Linking::Object,
    );
    // The image holds the artifact byte for byte under the emitted symbol.
    let bytes = std::fs::read(&image).expect("read the image");
    let file = object::File::parse(&*bytes).expect("an ELF image");
    let symbol = file
        .symbols()
        .find(|s| s.name() == Ok("whittle_model"))
        .expect("the image defines whittle_model");
    assert_eq!(symbol.size() as usize, artifact.len());
    assert_eq!(
        symbol.address() % 16,
        0,
        "whittle_model is not 16-byte aligned"
    );
    let (status, output) = emulate(&M4F, &image);
    assert_eq!(status, Some(0), "{output}");
    assert!(output.contains("PASS: 0 of 40"), "{output}");
    assert_eq!(printed_classes(&output), expected, "{output}");
}

/// The MLPerf Tiny int8 models on the boards (KWS on all three): each validates bit-exact
/// at boot against the host and prints its instructions per inference (skipped when the
/// reference data is not on this machine).
#[test]
fn mlperf_int8_models_on_the_boards() {
    let Some(data) = whittle_tests::shared_data() else {
        println!("SKIPPED: reference models not found (set WHITTLE_SHARED_DATA)");
        return;
    };
    for name in [
        "kws_ref_model",
        "pretrainedResnet_quant",
        "vww_96_int8",
        "ad01_int8",
    ] {
        let input =
            whittle_tests::npy(&data.join(format!("testdata/{name}/test_data_set_0/input_0.npy")));
        // Every board runs KWS; the larger models run on the M4F and RISC-V boards.
        let boards: &[&Board] = if name == "kws_ref_model" {
            &[&M4F, &M3, &RISCV]
        } else {
            &[&M4F, &RISCV]
        };
        for &board in boards {
            let opts = CompileOptions {
                target: Target::resolve(board.profile).expect("built-in target"),
                ..Default::default()
            };
            let compiled = whittle::compile_path(&data.join(format!("models/{name}.onnx")), &opts)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let artifact =
                whittle::validate::embed(&compiled, board.profile, std::slice::from_ref(&input), 1)
                    .expect("embed a validation vector");
            let arena = compiled.plan.arena_bytes;
            let inputs = input_bytes(&artifact, &input);
            let case = format!("{}-{name}", board.name);
            let outcome = run_firmware(board, &case, &artifact, &inputs, arena);
            assert_eq!(outcome.status, Some(0), "{case}:\n{}", outcome.output);
            assert!(
                outcome.output.contains("max error 0 LSB") && outcome.output.contains("PASS"),
                "{case}:\n{}",
                outcome.output
            );
            let (text, data_bytes, bss) = image_size(&outcome.image);
            let stack = outcome.stack.expect("a stack high-water mark");
            let state = outcome.runtime_state.expect("the runtime state's size");
            let invoke_stack = outcome.inference_stack.expect("the inference stack");
            let bound = compiled.plan.lower_bound_bytes as u64;
            // What one inference needs: arena, runtime state and the stack below the caller.
            let ram = arena as u64 + state + invoke_stack;
            let limit = (1.05 * bound as f64) as u64 + 2048;
            println!(
                "{case}: validation PASS (0 LSB); {} instructions per inference; artifact {} B, arena {arena} B (lower bound {bound} B); runtime state {state} B, inference stack {invoke_stack} B: inference RAM {ram} B (goal <= {limit} B: {}); whole firmware: image text {text}, data {data_bytes}, bss {bss}, stack peak {stack} B, RAM {} B",
                outcome.instructions.unwrap_or(0),
                artifact.len(),
                if ram <= limit { "within" } else { "OVER" },
                data_bytes + bss + stack
            );
            assert!(
                ram <= limit,
                "{case}: inference RAM {ram} B exceeds 1.05 x {bound} + 2048 = {limit} B"
            );
        }
    }
}
