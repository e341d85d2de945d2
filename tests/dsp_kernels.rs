//! The Cortex-M DSP int8 kernels on the emulated Cortex-M4F (QEMU `mps2-an386`): the
//! `tests/dsp-kernels` firmware runs every kernel variant the board has against the
//! reference on thousands of pseudo-random shapes and exits non-zero at the first output that
//! differs by one bit. `--nocapture` shows what each variant costs on the keyword-spotting
//! layers.
//!
//! Needs `qemu-system-arm` and the `thumbv7em-none-eabihf` target (`tests/run.sh` installs
//! both); a missing one fails the test.

#[path = "firmware/qemu.rs"]
#[allow(dead_code)]
mod qemu;

use qemu::{M4F, cargo_build_release, emulate};
use std::process::Command;
use whittle_tests::workspace_root;

#[test]
fn dsp_kernels_equal_the_reference_on_the_m4f() {
    let root = workspace_root();
    let package = root.join("tests/dsp-kernels");
    let target_dir = root.join("target/dsp-kernels");
    let mut cargo = Command::new(env!("CARGO"));
    cargo.arg("build");
    cargo_build_release(cargo, &package, &target_dir, M4F.triple);
    let image = target_dir
        .join(M4F.triple)
        .join("release/whittle-dsp-kernels");
    let (status, out) = emulate(&M4F, &image);
    for line in out.lines().filter(|l| l.starts_with("cost: ")) {
        println!("{line}");
    }
    assert_eq!(status, Some(0), "the firmware found a difference:\n{out}");
    assert!(
        out.contains("variants: [Reference, Portable, ArmDsp]; the interpreter runs ArmDsp"),
        "the DSP variant is not compiled for the board:\n{out}"
    );
    assert!(
        out.contains("random convolutions: every variant equals the reference"),
        "{out}"
    );
    assert!(out.contains("PASS"), "{out}");
}
