//! The int8 kernels execute no floating-point instruction: a firmware image for an FPU-less
//! Cortex-M3 (`thumbv7m-none-eabi`) that calls every one of them links no soft-float routine.
//! The positive control (the same image also calling a float kernel) must link some, which
//! shows the check can fail.

use object::{Object, ObjectSymbol};
use std::path::PathBuf;
use whittle_tests::workspace_root;

const TARGET: &str = "thumbv7m-none-eabi";

/// The probe's never-inlined callers, one per int8 kernel family.
const PROBES: [&str; 8] = [
    "probe_conv2d_i8",
    "probe_dense_i8",
    "probe_binary_i8",
    "probe_pool_i8",
    "probe_softmax_i8",
    "probe_lookup_i8",
    "probe_requantize_i8",
    "probe_copy_blocks",
];

/// Builds the probe firmware and returns the names and sizes of the symbols in the image.
fn probe_symbols(control: bool) -> Vec<(String, u64)> {
    let root = workspace_root();
    let target_dir = root
        .join("target/nofpu")
        .join(if control { "control" } else { "int8" });
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.args([
        "build",
        "--release",
        "--quiet",
        "--target",
        TARGET,
        "--manifest-path",
    ]);
    cargo
        .arg(root.join("tests/nofpu-probe/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    if control {
        cargo.args(["--features", "control"]);
    }
    let status = cargo.status().expect("cargo runs");
    assert!(
        status.success(),
        "building the probe for {TARGET} failed (is the target installed? rustup target add {TARGET})"
    );
    let image: PathBuf = target_dir.join(TARGET).join("release/whittle-nofpu-probe");
    let bytes = std::fs::read(&image).unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    let file = object::File::parse(&*bytes).expect("an ELF image");
    file.symbols()
        .filter_map(|s| s.name().ok().map(|name| (name.to_string(), s.size())))
        .collect()
}

/// Soft-float entry points of compiler-builtins (AEABI and libgcc names, unmangled and
/// starting with `__`) and functions of the `libm` crate. Mangled Rust names are not matched
/// by suffix: their hashes could spell `df3` by chance.
fn soft_float(symbols: &[(String, u64)]) -> Vec<&String> {
    const AEABI: [&str; 8] = [
        "__aeabi_f",
        "__aeabi_d",
        "__aeabi_i2f",
        "__aeabi_ui2f",
        "__aeabi_l2f",
        "__aeabi_ul2f",
        "__aeabi_i2d",
        "__aeabi_ui2d",
    ];
    const LIBGCC_SUFFIXES: [&str; 12] = [
        "sf3", "df3", "sf2", "df2", "sfsi", "dfsi", "sisf", "sidf", "sfdi", "dfdi", "disf", "didf",
    ];
    symbols
        .iter()
        .map(|(name, _)| name)
        .filter(|name| {
            let builtin = name.starts_with("__")
                && (AEABI.iter().any(|p| name.starts_with(p))
                    || LIBGCC_SUFFIXES.iter().any(|s| name.ends_with(s)));
            let libm = name.contains("4libm");
            builtin || libm
        })
        .collect()
}

#[test]
fn int8_kernels_link_no_soft_float() {
    let symbols = probe_symbols(false);
    for probe in PROBES {
        let size = symbols
            .iter()
            .filter(|(name, _)| name.contains(probe))
            .map(|&(_, size)| size)
            .max();
        // A caller whose kernel call was optimized away would shrink to a bare return.
        assert!(
            size.is_some_and(|size| size >= 8),
            "the probe image lacks {probe} or it is empty (size {size:?})"
        );
    }
    let float = soft_float(&symbols);
    assert!(
        float.is_empty(),
        "int8 kernels pull in soft-float routines: {float:?}"
    );
    let control = probe_symbols(true);
    assert!(
        !soft_float(&control).is_empty(),
        "the control image (with a float kernel) shows no soft-float routine"
    );
}
