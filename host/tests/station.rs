//! The factory station flow of `examples/station` on the emulated Cortex-M4F: a signed release
//! passes verify, unpack, flash and the device's self-test; a tampered bundle stops at verify
//! and is never flashed; a model corrupted in flash fails the device's self-test, and the
//! station log names the layer that diverged.
//!
//! Needs `qemu-system-arm` and the `thumbv7em-none-eabihf` Rust target (`tests/run.sh`
//! installs both).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use whittle_runtime::format::Space;
use whittle_runtime::{AlignedBytes, Model};

/// The demo's outputs, shared by the tests (built once, in order).
static DEMO: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Standard output and standard error, together.
fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `examples/station/demo.sh` once: the release, its bundle, and a passing station run.
fn demo() -> PathBuf {
    let mut done = DEMO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = done.as_ref() {
        return dir.clone();
    }
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("station-demo");
    let out = Command::new(root().join("examples/station/demo.sh"))
        .env("WHITTLE", env!("CARGO_BIN_EXE_whittle"))
        .env("STATION_DEMO_DIR", &dir)
        .output()
        .expect("run demo.sh");
    assert!(out.status.success(), "demo.sh failed:\n{}", text(&out));
    *done = Some(dir.clone());
    dir
}

/// Runs the station on `bundle`, logging to `log`, with `flasher` if given.
fn station(dir: &Path, bundle: &Path, log: &Path, flasher: Option<&Path>) -> Output {
    let mut cmd = Command::new(root().join("examples/station/station.sh"));
    cmd.args([bundle, &dir.join("keys/whittle.pub"), log])
        .env("WHITTLE", env!("CARGO_BIN_EXE_whittle"));
    if let Some(f) = flasher {
        cmd.env("FLASHER", f);
    }
    cmd.output().expect("run station.sh")
}

/// The single JSON line of a station log.
fn logged(log: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(log).expect("station log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line per station run:\n{text}");
    serde_json::from_str(lines[0]).expect("the log line is JSON")
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/usr/bin/env bash\nset -eu\n{body}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn a_signed_release_passes_the_station() {
    let dir = demo();
    let entry = logged(&dir.join("station.log"));
    assert_eq!(entry["result"], "pass", "{entry}");
    assert_eq!(entry["stage"], "device", "{entry}");
    assert_eq!(entry["pin"], "high", "{entry}");
    assert_eq!(
        entry["device_verdict"], "self-test: PASS vectors=8",
        "{entry}"
    );
    let bundle = std::fs::read(dir.join("release.wbundle")).unwrap();
    assert_eq!(entry["bundle_sha256"], whittle::bundle::sha256_hex(&bundle));
}

#[test]
fn a_tampered_bundle_stops_at_verify_and_is_never_flashed() {
    let dir = demo();
    let mut bundle = std::fs::read(dir.join("release.wbundle")).unwrap();
    let model = std::fs::read(dir.join("gesture-int8.wtl")).unwrap();
    let at = bundle
        .windows(model.len())
        .position(|w| w == model.as_slice())
        .expect("the model is stored as is");
    bundle[at + model.len() / 2] ^= 0x01;
    let tampered = dir.join("tampered.wbundle");
    std::fs::write(&tampered, &bundle).unwrap();
    let marker = dir.join("flashed-tampered");
    let _ = std::fs::remove_file(&marker);
    let flasher = dir.join("flasher-marker.sh");
    write_script(&flasher, &format!("touch '{}'", marker.display()));
    let log = dir.join("tampered.log");
    let _ = std::fs::remove_file(&log);

    let out = station(&dir, &tampered, &log, Some(&flasher));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!marker.exists(), "a rejected bundle was flashed");
    let entry = logged(&log);
    assert_eq!(entry["result"], "rejected", "{entry}");
    assert_eq!(entry["stage"], "verify", "{entry}");
    assert_eq!(entry["exit_status"], 12, "{entry}");
    assert!(
        entry["detail"].as_str().unwrap().contains("model.wtl"),
        "{entry}"
    );
}

#[test]
fn a_model_corrupted_in_flash_fails_the_device_self_test_naming_the_layer() {
    let dir = demo();
    let model = std::fs::read(dir.join("gesture-int8.wtl")).unwrap();
    let elf = std::fs::read(dir.join("gesture-m4f.elf")).unwrap();
    let model_at = elf
        .windows(model.len())
        .position(|w| w == model.as_slice())
        .expect("the firmware carries the model");
    // The second operator with weights: damage one byte of them.
    let aligned = AlignedBytes::new(&model);
    let loaded = Model::load(&aligned).expect("load");
    let (index, offset) = loaded
        .ops()
        .enumerate()
        .filter_map(|(i, op)| {
            let mut kind = op.kind;
            let first = kind.buffers_mut().find(|b| b.space == Space::Weights);
            first.map(|b| (i, b.offset))
        })
        .nth(1)
        .expect("two layers with weights");
    let name = loaded
        .ops()
        .nth(index)
        .and_then(|op| loaded.header().tensors.get(op.tensor))
        .expect("tensor")
        .name
        .to_string();
    let weights_at = u32::from_le_bytes(model[20..24].try_into().unwrap()) as usize;
    let at = model_at + weights_at + offset as usize + 1;
    let flipped = elf[at] ^ 0x40;
    // A flasher whose write of one byte goes wrong: the device gets a damaged model.
    let flasher = dir.join("flasher-corrupt.sh");
    write_script(
        &flasher,
        &format!(
            "copy=$(mktemp)\ncp \"$1\" \"$copy\"\nprintf '\\x{flipped:02x}' | dd of=\"$copy\" bs=1 seek={at} conv=notrunc status=none\nstatus=0\n'{}' \"$copy\" || status=$?\nrm -f \"$copy\"\nexit $status",
            root().join("examples/station/flash-qemu.sh").display()
        ),
    );
    let log = dir.join("corrupt.log");
    let _ = std::fs::remove_file(&log);

    let out = station(&dir, &dir.join("release.wbundle"), &log, Some(&flasher));
    let text = text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("integrity: FAIL"), "{text}");
    let entry = logged(&log);
    assert_eq!(entry["result"], "fail", "{entry}");
    assert_eq!(entry["pin"], "low", "{entry}");
    assert_eq!(entry["diverging_layer"]["index"], index, "{entry}");
    assert_eq!(entry["diverging_layer"]["name"], name.as_str(), "{entry}");
    assert!(
        entry["device_verdict"]
            .as_str()
            .unwrap()
            .starts_with("self-test: FAIL integrity"),
        "{entry}"
    );
}
