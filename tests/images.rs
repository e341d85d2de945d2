//! Flashable images of a real firmware: the Cortex-M4F example firmware with the gesture
//! model, built as in `tests/firmware.rs`, turned into a `.bin` and an Intel `.hex` by
//! `whittle::image`, and each booted on QEMU's `mps2-an386`: they must print the same classes
//! as the ELF and exit 0.
//!
//! How QEMU loads each: the ELF and the `.bin` with `-kernel` (for a raw image the M-profile
//! loader puts its bytes at address 0, so the image must start there); the `.hex` with the
//! generic loader, `-device loader,file=fw.hex` and no `-kernel`, which QEMU 10 reads as
//! Intel HEX (after trying ELF and uImage). The core then starts as a real one does, from the
//! vector table at 0 (initial stack pointer and reset handler), not from the file's start
//! address record.
//!
//! Needs `qemu-system-arm` and the `thumbv7em-none-eabihf` target, like `tests/firmware.rs`.
//! The firmware is built in this test binary's own directory under `CARGO_TARGET_TMPDIR`, so
//! it never shares a build directory with a concurrent `tests/firmware.rs` run.

#[path = "firmware/qemu.rs"]
#[allow(dead_code)]
mod qemu;

use qemu::{Linking, M4F, build_under, emulate, emulate_loading};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use whittle::image::{Arch, FlashImage, parse_intel_hex};
use whittle::run::Runner;
use whittle::targets::Target;
use whittle::{CompileOptions, ElemType, Tensor};
use whittle_runtime::{AlignedBytes, Model};
use whittle_tests::workspace_root;

/// Validation vectors embedded in the model, as `tests/firmware.rs` does.
const VALIDATION_VECTORS: usize = 8;

fn gesture() -> PathBuf {
    workspace_root().join("examples/gesture")
}

/// The array `x` of the `.npz` file `name` in the gesture example, as float32.
fn npz_x(name: &str) -> Tensor {
    whittle::data::read_npz(&gesture().join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .find(|(array, _)| array == "x")
        .map(|(_, t)| t.cast(ElemType::F32))
        .unwrap_or_else(|| panic!("{name} holds x"))
}

/// The float gesture model for the Cortex-M4F with validation vectors, the firmware's inputs
/// (`sample.npy`) and the host runtime's classes for them.
fn model() -> (Vec<u8>, Vec<u8>, Vec<usize>) {
    let opts = CompileOptions {
        target: Target::resolve(M4F.profile).expect("built-in target"),
        ..Default::default()
    };
    let compiled =
        whittle::compile_path(&gesture().join("gesture.onnx"), &opts).expect("compile gesture");
    let artifact = whittle::validate::embed(
        &compiled,
        M4F.profile,
        &[npz_x("data/test.npz")],
        VALIDATION_VECTORS,
    )
    .expect("embed the validation vectors");
    let x = whittle::data::read_npy(&gesture().join("sample.npy"))
        .expect("sample.npy")
        .cast(ElemType::F32);
    let aligned = AlignedBytes::new(&artifact);
    let input = Model::load(&aligned)
        .expect("load the artifact")
        .input(0)
        .expect("input 0");
    let inputs = whittle::run::input_bytes(&x, &input).expect("convert the inputs");
    let scores = Runner::new(&artifact)
        .expect("load on the host")
        .run(std::slice::from_ref(&x))
        .expect("run on the host")
        .remove(0);
    let classes = *scores.shape.last().expect("a ranked output");
    let expected = scores
        .to_f32()
        .chunks(classes)
        .map(|row| {
            // The first largest, as the firmware computes it.
            (0..row.len()).fold(0, |best, i| {
                if row[i].total_cmp(&row[best]).is_gt() {
                    i
                } else {
                    best
                }
            })
        })
        .collect();
    (artifact, inputs, expected)
}

/// The classes a run printed (`sample N: class K`), after checking it exited 0 and passed
/// the boot validation (so the model's weights reached the board intact).
fn classes(what: &str, (status, output): (Option<i32>, String)) -> Vec<usize> {
    assert_eq!(status, Some(0), "{what}: the firmware failed:\n{output}");
    assert!(
        output.contains("PASS: 0 of 40 output elements differ"),
        "{what}: no passing boot validation:\n{output}"
    );
    output
        .lines()
        .filter_map(|l| l.strip_prefix("sample ")?.split_once(": class "))
        .map(|(_, k)| k.trim().parse().expect("a class"))
        .collect()
}

/// `-device loader,file=PATH` for QEMU's generic loader (commas in the path doubled, as QEMU
/// option values escape them).
fn generic_loader(path: &Path) -> OsString {
    let path = path.to_str().expect("a UTF-8 path").replace(',', ",,");
    OsString::from(format!("loader,file={path}"))
}

#[test]
fn m4f_bin_and_hex_boot_like_the_elf() {
    let (artifact, inputs, expected) = model();
    let arena = Model::load(&AlignedBytes::new(&artifact))
        .expect("load")
        .arena_bytes();
    let firmware = Path::new(env!("CARGO_TARGET_TMPDIR")).join("firmware");
    let elf_path = build_under(
        &firmware,
        &M4F,
        "m4f-images",
        &artifact,
        &inputs,
        arena,
        Linking::Included,
    );
    let from_elf = classes("ELF", emulate(&M4F, &elf_path));
    assert_eq!(
        from_elf, expected,
        "the ELF's classes differ from the host's"
    );

    let elf = std::fs::read(&elf_path).expect("read the ELF");
    let image = FlashImage::from_elf(&elf).expect("a flash image of the firmware");
    assert_eq!(image.arch(), Arch::Arm);
    assert!(!image.is_64bit());
    assert!(image.arch().matches_triple(M4F.triple));
    assert!(image.arch().matches_triple("thumbv7em-none-eabihf"));
    assert!(!image.arch().matches_triple("riscv32imac-unknown-none-elf"));
    // The vector table is at 0, where the M-profile core and QEMU's raw loader expect it.
    assert_eq!(image.base_address(), 0);
    // The entry is the reset handler in Thumb state.
    assert_eq!(image.entry() & 1, 1, "entry {:#x}", image.entry());

    let bin = image.to_bin();
    assert_eq!(bin.len() as u64, image.end_address());
    let bin_path = elf_path.with_extension("bin");
    std::fs::write(&bin_path, &bin).expect("write the .bin");
    let load = [OsString::from("-kernel"), bin_path.clone().into_os_string()];
    let load: Vec<&_> = load.iter().map(OsString::as_os_str).collect();
    let from_bin = classes(
        ".bin",
        emulate_loading(&M4F, &load, &bin_path.with_extension("bin.out")),
    );
    assert_eq!(
        from_bin, from_elf,
        "the .bin's classes differ from the ELF's"
    );

    let hex = image.to_intel_hex().expect("the image is below 4 GiB");
    // The file holds exactly the segments at their load addresses (adjacent ones merged).
    let parsed = parse_intel_hex(&hex).expect("parse our .hex");
    let mut runs: Vec<(u32, Vec<u8>)> = Vec::new();
    for segment in image.segments() {
        let address = u32::try_from(segment.address).expect("below 4 GiB");
        match runs.last_mut() {
            Some((start, bytes)) if *start as usize + bytes.len() == address as usize => {
                bytes.extend(&segment.data)
            }
            _ => runs.push((address, segment.data.clone())),
        }
    }
    assert_eq!(
        parsed.chunks, runs,
        "the .hex's data differ from the segments"
    );
    assert_eq!(parsed.start.map(u64::from), Some(image.entry()));
    let hex_path = elf_path.with_extension("hex");
    std::fs::write(&hex_path, &hex).expect("write the .hex");
    let load = [OsString::from("-device"), generic_loader(&hex_path)];
    let load: Vec<&_> = load.iter().map(OsString::as_os_str).collect();
    let from_hex = classes(
        ".hex",
        emulate_loading(&M4F, &load, &hex_path.with_extension("hex.out")),
    );
    assert_eq!(
        from_hex, from_elf,
        "the .hex's classes differ from the ELF's"
    );
    println!(
        "m4f: ELF, .bin ({} bytes at {:#x}) and .hex ({} bytes) print the same {} classes",
        bin.len(),
        image.base_address(),
        hex.len(),
        from_elf.len()
    );
}
