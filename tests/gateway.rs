//! The ARM gateway example (`examples/gateway`), cross-built for `aarch64-unknown-linux-gnu`
//! with the Debian cross linker and run under user-mode QEMU: with the float gesture model it
//! prints the recorded classes, with the int8 models (float or int8 input) the classes the host
//! runtime computes; it reads a sample from standard input and rejects a corrupted artifact with
//! exit status 2.

use object::Object;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use whittle::quantize::{Method, QuantizeOptions};
use whittle::run::Runner;
use whittle::tensor::ElemType;
use whittle::{CompileOptions, Tensor};
use whittle_tests::{npy, workspace_root};

const TARGET: &str = "aarch64-unknown-linux-gnu";

/// Cross-builds the gateway (once per test binary) and returns the path of its executable.
fn gateway() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let root = workspace_root();
        let target_dir = root.join("target/gateway");
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--target", TARGET])
            .arg("--manifest-path")
            .arg(root.join("examples/gateway/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target_dir)
            // The example's own .cargo/config.toml names the cross linker.
            .current_dir(root.join("examples/gateway"))
            .status()
            .expect("cargo runs");
        assert!(
            status.success(),
            "cross-building the gateway failed (needs `rustup target add {TARGET}` and \
             gcc-aarch64-linux-gnu: tests/setup-emulators.sh)"
        );
        target_dir.join(TARGET).join("release/gateway")
    })
}

/// Runs the gateway under `qemu-aarch64` with `args`, feeding `stdin` to it.
fn run_gateway(args: &[&Path], stdin: &str) -> Output {
    let mut child = Command::new("qemu-aarch64")
        .args(["-L", "/usr/aarch64-linux-gnu"])
        .arg(gateway())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-aarch64 runs (install it with tests/setup-emulators.sh)");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("gateway finishes")
}

/// The class names printed on the `sample <i>: class <name> score <s>` lines.
fn printed_classes(output: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "gateway failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("latency: median "), "{stdout}");
    stdout
        .lines()
        .filter(|line| line.starts_with("sample "))
        .map(|line| {
            let (_, rest) = line.split_once(": class ").expect("a class");
            let (class, _) = rest.split_once(" score ").expect("a score");
            class.to_string()
        })
        .collect()
}

fn gesture(file: &str) -> PathBuf {
    workspace_root().join("examples/gesture").join(file)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect()
}

/// The gesture model compiled three ways, once per test binary.
struct Artifacts {
    /// float32.
    float: Vec<u8>,
    /// int8 inside, float32 input and output.
    int8: Vec<u8>,
    /// int8 with int8 input and output (`--io int8`): the gateway quantizes float samples.
    int8_io: Vec<u8>,
}

fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| {
        let onnx = gesture("gesture.onnx");
        let float = whittle::compile_path(&onnx, &CompileOptions::default()).expect("float");
        let train = whittle::data::read_npz(&gesture("data/train.npz")).expect("train.npz");
        let x = train
            .iter()
            .find(|(name, _)| name == "x")
            .map(|(_, t)| t.cast(ElemType::F32))
            .expect("train.npz holds x");
        let quantized = |int8_io: bool| {
            let opts = CompileOptions {
                quantize: Some(QuantizeOptions {
                    calibration: vec![x.clone()],
                    method: Method::Mse,
                    samples: None,
                    bias_correction: false,
                    int8_io,
                    keep_float: Vec::new(),
                    calibrated: None,
                }),
                ..Default::default()
            };
            whittle::compile_path(&onnx, &opts).expect("int8").artifact
        };
        Artifacts {
            float: float.artifact,
            int8: quantized(false),
            int8_io: quantized(true),
        }
    })
}

/// Writes `bytes` as `name` into a fresh temporary directory.
fn write_temp(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write artifact");
    (dir, path)
}

#[test]
fn gateway_is_an_aarch64_elf() {
    let bytes = std::fs::read(gateway()).expect("gateway binary");
    let file = object::File::parse(&*bytes).expect("an object file");
    assert_eq!(file.format(), object::BinaryFormat::Elf);
    assert_eq!(file.architecture(), object::Architecture::Aarch64);
    println!("gateway binary: {} bytes", bytes.len());
}

#[test]
fn float_model_prints_the_recorded_gestures() {
    let (_dir, model) = write_temp("gesture.wtl", &artifacts().float);
    let output = run_gateway(
        &[
            &model,
            &gesture("sample.npy"),
            Path::new("--labels"),
            &gesture("classes.txt"),
        ],
        "",
    );
    assert_eq!(
        printed_classes(&output),
        lines(&gesture("sample_labels.txt"))
    );
}

/// The classes the host runtime computes for `sample.npy` with `artifact`.
fn host_classes(artifact: &[u8]) -> Vec<String> {
    let x: Tensor = npy(&gesture("sample.npy"));
    let scores = Runner::new(artifact).expect("load").run(&[x]).expect("run")[0].to_f32();
    let names = lines(&gesture("classes.txt"));
    scores
        .chunks(names.len())
        .map(|row| {
            let top = (0..row.len()).fold(0, |best, i| if row[i] > row[best] { i } else { best });
            names[top].clone()
        })
        .collect()
}

#[test]
fn int8_models_agree_with_the_host_runtime() {
    // With float input and output; and with int8 ones, where the gateway quantizes the float
    // samples itself as `whittle run` does.
    for (name, artifact) in [
        ("gesture-int8.wtl", &artifacts().int8),
        ("gesture-int8-io.wtl", &artifacts().int8_io),
    ] {
        let host = host_classes(artifact);
        assert_eq!(host.len(), 8);
        let (_dir, model) = write_temp(name, artifact);
        let output = run_gateway(
            &[
                Path::new("--labels"),
                &gesture("classes.txt"),
                Path::new("--model"),
                &model,
                &gesture("sample.npy"),
            ],
            "",
        );
        assert_eq!(printed_classes(&output), host, "{name}");
    }
}

#[test]
fn one_sample_on_stdin() {
    let (_dir, model) = write_temp("gesture.wtl", &artifacts().float);
    let first: Vec<String> = npy(&gesture("sample.npy")).to_f32()[..3 * 64]
        .iter()
        .map(f32::to_string)
        .collect();
    let output = run_gateway(
        &[&model, Path::new("--labels"), &gesture("classes.txt")],
        &format!("{}\n", first.join(" ")),
    );
    assert_eq!(
        printed_classes(&output),
        lines(&gesture("sample_labels.txt"))[..1]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("input <stdin>: 1 sample\n"), "{stdout}");
}

#[test]
fn corrupted_artifact_exits_2_naming_the_file() {
    let mut bytes = artifacts().float.clone();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let (_dir, model) = write_temp("corrupted.wtl", &bytes);
    let output = run_gateway(&[&model, &gesture("sample.npy")], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.starts_with("error: ") && stderr.contains(&*model.to_string_lossy()),
        "{stderr}"
    );
    assert!(stderr.contains("CRC-32"), "{stderr}");
}
