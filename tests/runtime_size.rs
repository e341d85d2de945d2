//! The runtime's code size on a Cortex-M4F (`thumbv7em-none-eabihf`, LTO, opt-level "z"):
//! a probe firmware that loads and runs a model is linked with the runtime and without it,
//! and the difference in `.text` is the runtime's share. Both images link `memcpy` and
//! `memset`, which every firmware has. The int8 operator set of the keyword-spotting model
//! (convolution, depthwise, pooling, dense, softmax) must stay within 16 KiB.

use whittle_tests::workspace_root;

const TARGET: &str = "thumbv7em-none-eabihf";
/// Operators of an int8 DS-CNN keyword-spotting model (`whittle inspect` lists them).
const KWS_FEATURES: &str = "int8,conv,dense,pool,softmax";
const KWS_BUDGET: u64 = 16 * 1024;

/// Builds the probe with these features and returns its `.text` size in bytes.
fn probe_text(features: &str) -> u64 {
    let root = workspace_root();
    let label = if features.is_empty() {
        "baseline"
    } else {
        features
    };
    let target_dir = root.join("target/size").join(label.replace(',', "-"));
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--target", TARGET])
        .arg("--manifest-path")
        .arg(root.join("tests/size-probe/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .args(["--features", features])
        .status()
        .expect("cargo runs");
    assert!(
        status.success(),
        "building the size probe ({label}) for {TARGET} failed (is the target installed? rustup target add {TARGET})"
    );
    let image = target_dir.join(TARGET).join("release/whittle-size-probe");
    let bytes = std::fs::read(&image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    let file = object::File::parse(&*bytes).expect("an ELF image");
    use object::{Object, ObjectSection};
    file.section_by_name(".text")
        .map(|s| s.size())
        .expect("a .text section")
}

#[test]
fn runtime_text_for_the_kws_operator_set_fits_16_kib() {
    let baseline = probe_text("");
    let kws = probe_text(&format!("runtime,{KWS_FEATURES}")) - baseline;
    let all = probe_text("runtime,all-ops") - baseline;
    let int8 =
        probe_text("runtime,int8,conv,dense,pool,softmax,binary,layout,lookup,quantize") - baseline;
    println!("runtime .text on {TARGET} (LTO, opt-level z), app baseline {baseline} B excluded:");
    println!(
        "  KWS int8 set ({KWS_FEATURES}): {kws} B ({:.1} KiB)",
        kws as f64 / 1024.0
    );
    println!(
        "  every int8 operator:                  {int8} B ({:.1} KiB)",
        int8 as f64 / 1024.0
    );
    println!(
        "  every operator (all-ops):             {all} B ({:.1} KiB)",
        all as f64 / 1024.0
    );
    assert!(
        kws < int8 && int8 < all,
        "fewer operators must give less code"
    );
    assert!(
        kws <= KWS_BUDGET,
        "the runtime for the KWS operator set takes {kws} B of .text, over the {KWS_BUDGET} B budget"
    );
}
