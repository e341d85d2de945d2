//! Building an example firmware for an emulated board and running it on QEMU: the boards,
//! the build (model included or linked from an emitted object), the run with a timeout, and
//! what the firmware printed.

use object::elf::{SHF_ALLOC, SHF_WRITE};
use object::{Object, ObjectSection, SectionFlags, SectionKind};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use whittle::targets::Target;
use whittle_tests::workspace_root;

/// How long QEMU may run before it is killed (the firmware itself takes well under a second).
const QEMU_TIMEOUT: Duration = Duration::from_secs(120);

/// One emulated board and its firmware package.
pub(crate) struct Board {
    /// `examples/firmware-<name>`, and the build directory `target/firmware/<name>/build`.
    pub(crate) name: &'static str,
    /// Rust target the firmware is built for (as its `.cargo/config.toml` says).
    pub(crate) triple: &'static str,
    /// whittle target profile the model is compiled for.
    pub(crate) profile: &'static str,
}

pub(crate) const M4F: Board = Board {
    name: "m4f",
    triple: "thumbv7em-none-eabihf",
    profile: "cortex-m4f",
};
pub(crate) const M3: Board = Board {
    name: "m3",
    triple: "thumbv7m-none-eabi",
    profile: "cortex-m3",
};
pub(crate) const RISCV: Board = Board {
    name: "riscv",
    triple: "riscv32imac-unknown-none-elf",
    profile: "riscv32imac",
};

/// What a firmware run printed and how it ended.
pub(crate) struct Outcome {
    /// QEMU's exit status: the firmware's semihosting exit status.
    pub(crate) status: Option<i32>,
    pub(crate) output: String,
    pub(crate) classes: Vec<usize>,
    pub(crate) instructions: Option<u64>,
    /// Instructions of each layer of one inference (`layer <i> <op> '<name>': <n>
    /// instructions`), in order.
    pub(crate) layers: Vec<u64>,
    /// Most stack used, as the firmware measured it.
    pub(crate) stack: Option<u64>,
    /// Stack of `Interpreter::new` plus `invoke` alone, as the firmware measured it.
    pub(crate) inference_stack: Option<u64>,
    /// Bytes of the runtime's `Model` and `Interpreter`.
    pub(crate) runtime_state: Option<u64>,
    pub(crate) image: PathBuf,
}

/// Serializes building and copying the image out: runs for one board share a build directory.
static BUILD: Mutex<()> = Mutex::new(());

/// How the firmware gets its model.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Linking {
    /// `include_model!` of the `.wtl` file.
    Included,
    /// The ELF object `whittle emit` writes, linked (the firmware's `linked-model` feature).
    Object,
}

/// Builds `board`'s firmware with `artifact` and `inputs` embedded, in
/// `target/firmware/<case>/`, and returns a copy of the image there.
fn build(board: &Board, case: &str, artifact: &[u8], inputs: &[u8], arena: usize) -> PathBuf {
    build_linked(board, case, artifact, inputs, arena, Linking::Included)
}

/// [`build`], with the model included or linked from an emitted object.
pub(crate) fn build_linked(
    board: &Board,
    case: &str,
    artifact: &[u8],
    inputs: &[u8],
    arena: usize,
    linking: Linking,
) -> PathBuf {
    let firmware = workspace_root().join("target/firmware");
    build_under(&firmware, board, case, artifact, inputs, arena, linking)
}

/// [`build_linked`] with the case and build directories under `firmware` instead of
/// `target/firmware`: a test binary that must not share a build directory with
/// `tests/firmware.rs` (run at the same time by another process) uses its own.
pub(crate) fn build_under(
    firmware: &Path,
    board: &Board,
    case: &str,
    artifact: &[u8],
    inputs: &[u8],
    arena: usize,
    linking: Linking,
) -> PathBuf {
    let root = workspace_root();
    let dir = firmware.join(case);
    std::fs::create_dir_all(&dir).expect("create the case directory");
    let (model, data) = (dir.join("model.wtl"), dir.join("inputs.bin"));
    std::fs::write(&model, artifact).expect("write model.wtl");
    std::fs::write(&data, inputs).expect("write inputs.bin");
    let package = root
        .join("examples")
        .join(format!("firmware-{}", board.name));
    let mut build_dir = board.name.to_string();
    let mut cargo = Command::new(env!("CARGO"));
    cargo.arg("build");
    if linking == Linking::Object {
        let target = Target::resolve(board.profile).expect("built-in target");
        let opts = whittle::emit::ElfOptions::for_target(&target).expect("an ELF architecture");
        let object = whittle::emit::elf_object(artifact, "whittle_model", opts).expect("emit");
        let path = dir.join("model.o");
        std::fs::write(&path, object).expect("write model.o");
        cargo
            .env("WHITTLE_MODEL_OBJECT", &path)
            .args(["--features", "linked-model"]);
        build_dir.push_str("-linked");
    }
    let target_dir = firmware.join(build_dir).join("build");
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    cargo
        .env("WHITTLE_MODEL", &model)
        .env("WHITTLE_INPUTS", &data)
        .env("WHITTLE_ARENA", arena.to_string());
    cargo_build_release(cargo, &package, &target_dir, board.triple);
    let built = target_dir
        .join(board.triple)
        .join("release")
        .join(format!("firmware-{}", board.name));
    let image = dir.join(format!("firmware-{}.elf", board.name));
    std::fs::copy(&built, &image).unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    image
}

/// Runs `cargo` (a `cargo build` with any extra arguments and variables) for the firmware
/// `package` in release mode into `target_dir`, and fails the test with cargo's output if the
/// build fails.
pub(crate) fn cargo_build_release(
    mut cargo: Command,
    package: &Path,
    target_dir: &Path,
    triple: &str,
) {
    // Run from the package so that its .cargo/config.toml (target, linker script) applies;
    // flags meant for host builds would replace the config's.
    let output = cargo
        .current_dir(package)
        .args(["--release", "--manifest-path"])
        .arg(package.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "building {} for {triple} failed (is the target installed? rustup target add {triple}):\n{}",
        package.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The QEMU command line of `board`'s `.cargo/config.toml` runner, which `cargo run` uses.
fn runner(board: &Board) -> Vec<String> {
    let config = workspace_root()
        .join("examples")
        .join(format!("firmware-{}", board.name))
        .join(".cargo/config.toml");
    let text = std::fs::read_to_string(&config).expect("read .cargo/config.toml");
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("runner = "))
        .unwrap_or_else(|| panic!("{} has no runner", config.display()));
    line.trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Runs `image` on `board`'s emulated machine, killing QEMU after [`QEMU_TIMEOUT`].
pub(crate) fn emulate(board: &Board, image: &Path) -> (Option<i32>, String) {
    let load = [OsStr::new("-kernel"), image.as_os_str()];
    emulate_loading(board, &load, &image.with_extension("out"))
}

/// Runs `board`'s emulated machine with `load` in place of the runner's final `-kernel`
/// (`-kernel IMAGE`, or `-device loader,file=fw.hex`), its output written to `log`, killing
/// QEMU after [`QEMU_TIMEOUT`].
pub(crate) fn emulate_loading(board: &Board, load: &[&OsStr], log: &Path) -> (Option<i32>, String) {
    let mut args = runner(board);
    assert_eq!(
        args.pop().as_deref(),
        Some("-kernel"),
        "{}'s runner does not end with -kernel",
        board.name
    );
    let file = std::fs::File::create(log).expect("create the output file");
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .args(load)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("clone the file"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}): install QEMU with tests/setup-emulators.sh",
                args[0]
            )
        });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for QEMU") {
            break status;
        }
        if start.elapsed() > QEMU_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} hung: killed after {QEMU_TIMEOUT:?}; output so far:\n{}",
                args[0],
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = std::fs::read_to_string(log).expect("read QEMU's output");
    (status.code(), output)
}

/// Builds and runs `board`'s firmware with `artifact`, `inputs` and an arena of `arena`
/// bytes, and parses what it printed.
pub(crate) fn run_firmware(
    board: &Board,
    case: &str,
    artifact: &[u8],
    inputs: &[u8],
    arena: usize,
) -> Outcome {
    let image = build(board, case, artifact, inputs, arena);
    let (status, output) = emulate(board, &image);
    let (mut classes, mut layers) = (Vec::new(), Vec::new());
    let (mut instructions, mut stack) = (None, None);
    let (mut inference_stack, mut runtime_state) = (None, None);
    let number = |rest: &str| rest.split_whitespace().next().and_then(|n| n.parse().ok());
    for line in output.lines() {
        if let Some((i, k)) = line
            .strip_prefix("sample ")
            .and_then(|rest| rest.split_once(": class "))
        {
            let (i, k): (usize, usize) = (i.parse().expect(line), k.trim().parse().expect(line));
            assert_eq!(i, classes.len(), "samples out of order:\n{output}");
            classes.push(k);
        }
        if let Some((index, count)) = line
            .strip_prefix("layer ")
            .and_then(|rest| rest.split_once(' ').zip(rest.rsplit_once("': ")))
            .map(|((index, _), (_, count))| (index, count))
        {
            assert_eq!(
                index.parse(),
                Ok(layers.len()),
                "layers out of order:\n{output}"
            );
            layers.push(
                count
                    .strip_suffix(" instructions")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("no count in '{line}'")),
            );
        }
        if let Some(rest) = line.strip_prefix("instructions per inference: ") {
            instructions = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
        if let Some(rest) = line.strip_prefix("stack high-water mark: ") {
            stack = number(rest);
        }
        if let Some(rest) = line.strip_prefix("inference stack: ") {
            inference_stack = number(rest);
        }
        if let Some(rest) = line.strip_prefix("runtime state: ") {
            runtime_state = number(rest);
        }
    }
    Outcome {
        status,
        output,
        classes,
        instructions,
        layers,
        stack,
        inference_stack,
        runtime_state,
        image,
    }
}

/// Text, data and bss bytes of an ELF image, as `size` counts them (the RISC-V runtime's
/// stack and heap reservations, the rest of its RAM region, left out of bss).
pub(crate) fn image_size(image: &Path) -> (u64, u64, u64) {
    let bytes = std::fs::read(image).expect("read the image");
    let file = object::File::parse(&*bytes).expect("an ELF image");
    let (mut text, mut data, mut bss) = (0, 0, 0);
    for section in file.sections() {
        let SectionFlags::Elf { sh_flags, .. } = section.flags() else {
            continue;
        };
        let name = section.name().unwrap_or_default();
        if sh_flags.0 & SHF_ALLOC.0 == 0 || matches!(name, ".stack" | ".heap") {
            continue;
        }
        if section.kind() == SectionKind::UninitializedData {
            bss += section.size();
        } else if sh_flags.0 & SHF_WRITE.0 != 0 {
            data += section.size();
        } else {
            text += section.size();
        }
    }
    (text, data, bss)
}
