//! Replays every input a fuzz target ever failed on (`tests/fuzz/regressions/<target>/`)
//! through the same harness functions the fuzzers run (`tests/fuzz/harness/`), and checks
//! that the harnesses reach the end on the project's own valid files, so a harness that
//! silently refused everything would fail here.

#[path = "fuzz/harness/host.rs"]
mod host;
#[path = "fuzz/harness/runtime.rs"]
mod runtime;

use runtime::Reached;
use std::panic::{AssertUnwindSafe, catch_unwind};
use whittle_tests::workspace_root;

/// Runs `harness` on every file of the target's regression directory; returns how many.
fn replay(target: &str, harness: impl Fn(&[u8])) -> usize {
    let dir = workspace_root().join("tests/fuzz/regressions").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.file_name().is_some_and(|n| n != ".gitkeep"))
        .collect();
    files.sort();
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        if let Err(cause) = catch_unwind(AssertUnwindSafe(|| harness(&bytes))) {
            let message = cause
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| cause.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            panic!(
                "{target} regression {} fails again: {message}",
                file.display()
            );
        }
    }
    files.len()
}

fn read(relative: &str) -> Vec<u8> {
    let path = workspace_root().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn artifact_regressions_load_and_run_without_panicking() {
    let replayed = replay("load_invoke", |bytes| {
        runtime::load_and_run(bytes);
    });
    println!("load_invoke: {replayed} regression input(s)");
    let fixture = read("tests/fixtures/gesture-cortex-m4f.wtl");
    assert_eq!(runtime::load_and_run(&fixture), Reached::Ran);
    // Damaged past its checksums, the same model still goes through the diagnosis path.
    let mut damaged = fixture.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x40;
    assert_ne!(runtime::load_and_run(&damaged), Reached::Refused);
    assert_eq!(
        runtime::load_and_run(&fixture[..fixture.len() / 3]),
        Reached::Refused
    );
}

#[test]
fn data_file_regressions_are_read_or_refused_without_panicking() {
    let replayed = replay("npz", |bytes| {
        host::npz(bytes);
    });
    println!("npz: {replayed} regression input(s)");
    assert!(host::npz(&read("examples/gesture/sample.npy")));
    assert!(host::npz(&read("examples/gesture/data/edge.npz")));
    assert!(!host::npz(b"\x93NUMPY\x01\x00"));
}

#[test]
fn onnx_regressions_are_compiled_or_refused_without_panicking() {
    let replayed = replay("onnx_import", |bytes| {
        host::onnx_import(bytes);
    });
    println!("onnx_import: {replayed} regression input(s)");
    let model = read("examples/gesture/gesture.onnx");
    assert_eq!(host::onnx_import(&model), Some(Reached::Ran));
    assert_eq!(host::onnx_import(&model[..model.len() / 2]), None);
}

#[test]
fn bundle_regressions_are_verified_or_refused_without_panicking() {
    let replayed = replay("bundle_verify", |bytes| {
        host::bundle_verify(bytes);
    });
    println!("bundle_verify: {replayed} regression input(s)");
    let inputs = whittle::bundle::BundleInputs {
        artifact: whittle::bundle::NamedFile {
            path: "gesture.wtl".into(),
            bytes: read("tests/fixtures/gesture-cortex-m4f.wtl"),
        },
        firmware: Vec::new(),
        report: None,
        target: None,
        source_date_epoch: Some(0),
        model_flashed_separately: false,
    };
    let key = whittle::bundle::keys::generate().expect("a key");
    let bundle = whittle::bundle::create(&inputs, &key).expect("a bundle");
    assert!(host::bundle_verify(&bundle));
    assert!(!host::bundle_verify(&bundle[..bundle.len() - 512]));
}
