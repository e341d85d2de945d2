//! The runtime cannot panic in `Model::load`, `Model::load_for_diagnosis`, `Interpreter::new`,
//! `input_bytes_mut`, `invoke` and `output_bytes`. The size probe's `panic-never` feature
//! calls them on an opaque model and arena, and gives it a panic handler that calls a function
//! defined nowhere: the image links only if optimization left no path to a panic. Each test
//! links it for one target, operator set and opt-level; the last shows that a reachable panic
//! does fail the link. See docs/panic-free.md.

use std::process::Output;
use std::sync::{Mutex, PoisonError};
use whittle_tests::workspace_root;

/// What the `panic-never` panic handler calls.
const UNDEFINED: &str = "whittle_runtime_panic_is_reachable";
const ALL_OPS: &str = "runtime,all-ops,fast-kernels,sha256";
/// Operators of an int8 DS-CNN keyword-spotting model, with the reference kernels.
const KWS: &str = "runtime,int8,conv,dense,pool,softmax";
const M4F: &str = "thumbv7em-none-eabihf";

/// Builds the probe with `features` and `panic-never` (one build at a time: each is a full
/// LTO build, in `target/panic-never/<label>`).
fn link(label: &str, target: &str, features: &str, opt_level: &str) -> Output {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _build = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let root = workspace_root();
    std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--target", target])
        .arg("--manifest-path")
        .arg(root.join("tests/size-probe/Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/panic-never").join(label))
        .args(["--features", &format!("{features},panic-never")])
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt_level)
        .output()
        .expect("cargo runs")
}

fn assert_panic_free(label: &str, target: &str, features: &str, opt_level: &str) {
    let out = link(label, target, features, opt_level);
    assert!(
        out.status.success(),
        "the probe ({features}) did not link for {target} at opt-level {opt_level}: a panic is \
         reachable if the error names {UNDEFINED} (else: is the target installed? rustup target \
         add {target}).\n{}\nList the runtime lines that reach a panic with\n  \
         tests/size-probe/panic-sites.sh {target} {features} {opt_level}\n(docs/panic-free.md)",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn cortex_m4f_every_operator_links_without_a_panic() {
    assert_panic_free("m4f-all-z", M4F, ALL_OPS, "z");
}

#[test]
fn cortex_m4f_every_operator_at_opt_level_3_links_without_a_panic() {
    assert_panic_free("m4f-all-3", M4F, ALL_OPS, "3");
}

#[test]
fn cortex_m0plus_every_operator_links_without_a_panic() {
    assert_panic_free("m0plus-all-z", "thumbv6m-none-eabi", ALL_OPS, "z");
}

#[test]
fn riscv32imac_every_operator_links_without_a_panic() {
    assert_panic_free(
        "rv32imac-all-z",
        "riscv32imac-unknown-none-elf",
        ALL_OPS,
        "z",
    );
}

#[test]
fn cortex_m4f_kws_int8_set_links_without_a_panic() {
    assert_panic_free("m4f-kws-z", M4F, KWS, "z");
}

/// The negative control: `panic-control` makes the probe index a slice at an index the
/// optimizer cannot see, so a panic stays reachable and the link must fail on the symbol.
#[test]
fn a_reachable_panic_fails_the_link() {
    let out = link("control", M4F, "runtime,panic-control", "z");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(UNDEFINED),
        "the probe with a reachable panic must fail to link on {UNDEFINED}:\n{stderr}"
    );
}
