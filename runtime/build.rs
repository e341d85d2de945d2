//! Sets the `cfg`s that choose the optimized int8 kernels a target can run:
//!
//! - `whittle_arm_dsp` on Arm targets whose cores have the DSP extension (`SXTB16`, `SMLAD`):
//!   every `thumbv7em` core (Cortex-M4/M7), and any Arm target built with the `dsp` feature
//!   (for example a Cortex-M33 with `-C target-feature=+dsp`). Stable rustc does not report
//!   the Arm target features a target implies to `cfg`, so the target name decides.
//! - `whittle_avx2` on x86_64 when the AVX2 kernels can run: built with the `avx2` target
//!   feature (selected at compile time), or with the `std` feature (detected at run time).
//! - `whittle_neon` on AArch64 targets with the `neon` feature (every AArch64 Linux target),
//!   and `whittle_neon_dot` when they also have `dotprod` (`-C target-feature=+dotprod`, or a
//!   `-C target-cpu` that implies it): both chosen at compile time.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(whittle_arm_dsp)");
    println!("cargo::rustc-check-cfg=cfg(whittle_avx2)");
    println!("cargo::rustc-check-cfg=cfg(whittle_neon)");
    println!("cargo::rustc-check-cfg=cfg(whittle_neon_dot)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let has = |feature: &str| features.split(',').any(|f| f == feature);
    if arch == "arm" && (target.starts_with("thumbv7em") || has("dsp")) {
        println!("cargo::rustc-cfg=whittle_arm_dsp");
    }
    let std = std::env::var_os("CARGO_FEATURE_STD").is_some();
    if arch == "x86_64" && (has("avx2") || std) {
        println!("cargo::rustc-cfg=whittle_avx2");
    }
    if arch == "aarch64" && has("neon") {
        println!("cargo::rustc-cfg=whittle_neon");
        if has("dotprod") {
            println!("cargo::rustc-cfg=whittle_neon_dot");
        }
    }
}
