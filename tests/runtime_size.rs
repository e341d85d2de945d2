//! The runtime's code size on a Cortex-M4F (`thumbv7em-none-eabihf`, LTO, opt-level "z"):
//! a probe firmware that loads and runs a model is linked with the runtime and without it,
//! and the difference in `.text` is the runtime's share. Both images link `memcpy` and
//! `memset`, which every firmware has. The int8 operator set of the keyword-spotting model
//! (convolution, depthwise, pooling, dense, softmax) with the reference kernels must stay
//! within 16 KiB; the optimized kernels (`fast-kernels`) add code, and are reported.

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

/// Prints one line of the table: a label and a size.
fn row(label: &str, bytes: u64) {
    println!(
        "  {label:<50} {bytes:>6} B ({:.1} KiB)",
        bytes as f64 / 1024.0
    );
}

#[test]
fn runtime_text_for_the_kws_operator_set_fits_16_kib() {
    let baseline = probe_text("");
    let share = |features: &str| probe_text(&format!("runtime,{features}")) - baseline;
    let kws = share(KWS_FEATURES);
    let int8 = share("int8,conv,dense,pool,softmax,binary,layout,lookup,quantize");
    let all = share("all-ops");
    let kws_fast = share(&format!("{KWS_FEATURES},fast-kernels"));
    let all_fast = share("all-ops,fast-kernels");
    let kws_sha = share(&format!("{KWS_FEATURES},sha256"));
    println!("runtime .text on {TARGET} (LTO, opt-level z), app baseline {baseline} B excluded:");
    row(&format!("KWS int8 set ({KWS_FEATURES})"), kws);
    row("every int8 operator, layout and quantize", int8);
    row("every operator (all-ops)", all);
    row("KWS int8 set + fast-kernels", kws_fast);
    row("every operator + fast-kernels", all_fast);
    row("KWS int8 set + sha256 (digest checked on load)", kws_sha);
    assert!(
        kws < int8 && int8 < all,
        "fewer operators must give less code"
    );
    assert!(
        kws < kws_fast && all < all_fast,
        "the fast kernels must add code (else they are not linked)"
    );
    assert!(
        kws < kws_sha,
        "the sha256 feature must add code (else the digest is not checked)"
    );
    assert!(
        kws <= KWS_BUDGET,
        "the runtime for the KWS operator set takes {kws} B of .text, over the {KWS_BUDGET} B budget"
    );
}
