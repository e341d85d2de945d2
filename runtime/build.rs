//! Sets `whittle_arm_dsp` on Arm targets whose cores have the DSP extension (`SXTB16`,
//! `SMLAD`): every `thumbv7em` core (Cortex-M4/M7), and any Arm target built with the `dsp`
//! feature (for example a Cortex-M33 with `-C target-feature=+dsp`). Stable rustc does not
//! report the Arm target features a target implies to `cfg`, so the target name decides.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(whittle_arm_dsp)");
    println!("cargo::rerun-if-env-changed=TARGET");
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let arm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|arch| arch == "arm");
    let dsp_feature = features.split(',').any(|f| f == "dsp");
    if arm && (target.starts_with("thumbv7em") || dsp_feature) {
        println!("cargo::rustc-cfg=whittle_arm_dsp");
    }
}
