//! `whittle keygen`, `bundle`, `verify` and `unpack`: a signed bundle is reproducible, verifies
//! offline, and every kind of damage is caught with its own exit status; unpacking writes the
//! flashable images or nothing.

mod common;

use common::{text, whittle};
use ed25519_dalek::Signer;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use whittle::bundle::container::{self, Entry};
use whittle::bundle::keys;

const NOT_A_BUNDLE: i32 = 10;
const BAD_SIGNATURE: i32 = 11;
const HASH_MISMATCH: i32 = 12;
const MISSING_FILE: i32 = 13;
const EXTRA_FILE: i32 = 14;
const WRONG_TARGET: i32 = 15;
const INCOMPATIBLE: i32 = 16;
const EPOCH: &str = "1764288000";

/// A minimal Cortex-M firmware ELF: one loadable segment at address 0 holding `payload`.
fn arm_executable(payload: &[u8]) -> Vec<u8> {
    let data_at = 52 + 32;
    let mut elf = Vec::new();
    elf.extend_from_slice(b"\x7fELF\x01\x01\x01\0\0\0\0\0\0\0\0\0");
    for half in [2u16, 40] {
        elf.extend_from_slice(&half.to_le_bytes()); // ET_EXEC, EM_ARM
    }
    for word in [1u32, 0x41, 52, 0, 0x0500_0400] {
        elf.extend_from_slice(&word.to_le_bytes()); // version, entry, phoff, shoff, flags
    }
    for half in [52u16, 32, 1, 40, 0, 0] {
        elf.extend_from_slice(&half.to_le_bytes());
    }
    let size = payload.len() as u32;
    for word in [1u32, data_at, 0, 0, size, size, 5, 4] {
        elf.extend_from_slice(&word.to_le_bytes()); // PT_LOAD at 0, R+X
    }
    elf.extend_from_slice(payload);
    elf
}

/// The header of a 64-bit AArch64 Linux program (position-independent, `ET_DYN`): what a
/// gateway binary starts with.
fn aarch64_program() -> Vec<u8> {
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0".to_vec();
    elf.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    elf.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    elf.extend_from_slice(&[0; 44]);
    elf
}

struct Release {
    dir: tempfile::TempDir,
}

impl Release {
    /// Keys, an int8 gesture artifact for the Cortex-M4F with two validation vectors, and a
    /// firmware that carries it.
    fn new() -> Release {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture");
        let out = whittle(&["keygen", "--out", &s(&d.join("keys"))]);
        assert!(out.status.success(), "{}", text(&out));
        let out = whittle(&[
            "compile",
            &s(&example.join("gesture.onnx")),
            "--target",
            "cortex-m4f",
            "--embed-validation",
            "2",
            "--validation-data",
            &s(&example.join("sample.npy")),
            "-o",
            &s(&d.join("model.wtl")),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        let model = std::fs::read(d.join("model.wtl")).unwrap();
        std::fs::write(d.join("fw.elf"), arm_executable(&model)).unwrap();
        Release { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `whittle bundle` of the artifact and firmware into `name`, with `SOURCE_DATE_EPOCH`.
    fn bundle(&self, name: &str, extra: &[&str]) -> Output {
        let mut args = vec![
            "bundle".to_string(),
            "--artifact".into(),
            s(&self.path("model.wtl")),
            "--firmware".into(),
            s(&self.path("fw.elf")),
            "--sign".into(),
            s(&self.path("keys/whittle.key")),
            "-o".into(),
            s(&self.path(name)),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        Command::new(env!("CARGO_BIN_EXE_whittle"))
            .args(&args)
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .output()
            .unwrap()
    }

    /// `whittle bundle` of the artifact with `firmware` as the only firmware (no
    /// `SOURCE_DATE_EPOCH`).
    fn bundle_only_firmware(&self, firmware: &str, name: &str) -> Output {
        whittle(&[
            "bundle",
            "--artifact",
            &s(&self.path("model.wtl")),
            "--firmware",
            &s(&self.path(firmware)),
            "--sign",
            &s(&self.path("keys/whittle.key")),
            "-o",
            &s(&self.path(name)),
        ])
    }

    fn verify(&self, bundle: &Path, extra: &[&str]) -> Output {
        let mut args = vec![
            "verify".to_string(),
            s(bundle),
            "--key".into(),
            s(&self.path("keys/whittle.pub")),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        whittle(&refs)
    }

    /// Verifies `bytes` written to a scratch file; returns the exit status and the message.
    fn verify_bytes(&self, bytes: &[u8]) -> (i32, String) {
        let path = self.path("scratch.wbundle");
        std::fs::write(&path, bytes).unwrap();
        let out = self.verify(&path, &[]);
        (out.status.code().unwrap_or(-1), text(&out))
    }

    fn signing_key(&self) -> ed25519_dalek::SigningKey {
        let text = std::fs::read_to_string(self.path("keys/whittle.key")).unwrap();
        keys::parse_secret(&text, "whittle.key").unwrap()
    }
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn made(release: &Release) -> Vec<u8> {
    let out = release.bundle("r.wbundle", &[]);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::read(release.path("r.wbundle")).unwrap()
}

#[test]
fn keygen_writes_an_owner_only_secret_and_refuses_to_overwrite() {
    let r = Release::new();
    let secret = std::fs::read_to_string(r.path("keys/whittle.key")).unwrap();
    let public = std::fs::read_to_string(r.path("keys/whittle.pub")).unwrap();
    assert!(
        secret.starts_with("whittle ed25519 secret key\n"),
        "{secret}"
    );
    assert!(
        public.starts_with("whittle ed25519 public key\n"),
        "{public}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(r.path("keys/whittle.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret key mode {mode:o}");
    }
    let again = whittle(&["keygen", "--out", &s(&r.path("keys"))]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("exists"), "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(r.path("keys/whittle.key")).unwrap(),
        secret
    );
}

#[test]
fn the_same_inputs_give_byte_identical_bundles_that_verify() {
    let r = Release::new();
    let first = made(&r);
    let out = r.bundle("again.wbundle", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(r.path("again.wbundle")).unwrap(), first);

    let out = r.verify(&r.path("r.wbundle"), &["--target", "cortex-m4f"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("OK: "), "{}", text(&out));
    let (entries, mtime) = container::read(&first).unwrap();
    assert_eq!(mtime.to_string(), EPOCH);
    let names: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "manifest.sig",
            "model.wtl",
            "firmware/fw.elf"
        ]
    );
    let manifest: serde_json::Value = serde_json::from_slice(&entries[0].bytes).unwrap();
    assert_eq!(manifest["created"], "2025-11-28T00:00:00Z");
    assert_eq!(manifest["target"]["triple"], "thumbv7em-none-eabihf");
    assert_eq!(manifest["model"]["validation"]["vectors"], 2);
    assert_eq!(manifest["files"][1]["arch"], "arm");
    assert_eq!(manifest["files"][1]["embeds_model"], true);
}

#[test]
fn a_firmware_that_carries_another_model_is_refused_unless_the_model_is_flashed_apart() {
    let r = Release::new();
    std::fs::write(r.path("fw.elf"), arm_executable(b"another model entirely")).unwrap();
    let out = r.bundle("x.wbundle", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("does not contain") && text(&out).contains("model.wtl"),
        "{}",
        text(&out)
    );
    assert!(!r.path("x.wbundle").exists());
    let out = r.bundle("x.wbundle", &["--model-flashed-separately"]);
    assert!(out.status.success(), "{}", text(&out));
    let (entries, _) = container::read(&std::fs::read(r.path("x.wbundle")).unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&entries[0].bytes).unwrap();
    assert_eq!(manifest["files"][1]["embeds_model"], false);
}

#[test]
fn a_flipped_byte_anywhere_fails_verification_with_the_right_status() {
    let r = Release::new();
    let good = made(&r);
    let (entries, _) = container::read(&good).unwrap();
    // Offsets of each entry's data: every header and data block is 512-byte aligned.
    let mut at = 0;
    let mut data_at = Vec::new();
    for e in &entries {
        data_at.push(at + 512);
        at += 512 + e.bytes.len().next_multiple_of(512);
    }
    let expect = [
        (data_at[0] + 10, BAD_SIGNATURE),                        // manifest
        (data_at[1] + 30, BAD_SIGNATURE),                        // signature
        (data_at[2] + 100, HASH_MISMATCH),                       // model
        (data_at[3] + 60, HASH_MISMATCH),                        // firmware
        (data_at[1] + entries[1].bytes.len() + 3, NOT_A_BUNDLE), // padding
        (good.len() - 5, NOT_A_BUNDLE),                          // end-of-archive blocks
        (data_at[2] - 512 + 1, NOT_A_BUNDLE),                    // a header's name
    ];
    for (pos, status) in expect {
        let mut bad = good.clone();
        // Another byte of the same kind, so that hex digits stay hex digits.
        bad[pos] = match bad[pos] {
            b'0' => b'1',
            b if b.is_ascii_hexdigit() => b'0',
            b => b ^ 0x20,
        };
        let (code, message) = r.verify_bytes(&bad);
        assert_eq!(code, status, "byte {pos}: {message}");
    }
    // And every 37th byte of the whole file.
    for pos in (0..good.len()).step_by(37) {
        let mut bad = good.clone();
        bad[pos] ^= 0x01;
        let (code, message) = r.verify_bytes(&bad);
        assert!(
            (NOT_A_BUNDLE..=INCOMPATIBLE).contains(&code),
            "byte {pos}: status {code}: {message}"
        );
    }
    // A truncated or extended file is caught too.
    assert_eq!(r.verify_bytes(&good[..good.len() - 512]).0, NOT_A_BUNDLE);
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 512]);
    assert_eq!(r.verify_bytes(&longer).0, NOT_A_BUNDLE);
}

#[test]
fn another_key_extra_and_missing_files_and_other_targets_have_their_own_status() {
    let r = Release::new();
    let good = made(&r);
    let bundle = r.path("r.wbundle");

    let other = whittle(&["keygen", "--out", &s(&r.path("other"))]);
    assert!(other.status.success());
    let out = whittle(&[
        "verify",
        &s(&bundle),
        "--key",
        &s(&r.path("other/whittle.pub")),
    ]);
    assert_eq!(out.status.code(), Some(BAD_SIGNATURE), "{}", text(&out));

    let out = r.verify(&bundle, &["--target", "cortex-m3"]);
    assert_eq!(out.status.code(), Some(WRONG_TARGET), "{}", text(&out));
    assert!(text(&out).contains("cortex-m3"), "{}", text(&out));

    let (entries, mtime) = container::read(&good).unwrap();
    let mut extra = entries.clone();
    extra.push(Entry {
        path: "firmware/payload.elf".into(),
        bytes: b"not listed".to_vec(),
    });
    let (code, message) = r.verify_bytes(&container::write(&extra, mtime).unwrap());
    assert_eq!(code, EXTRA_FILE, "{message}");
    assert!(message.contains("firmware/payload.elf"), "{message}");

    let missing: Vec<Entry> = entries[..3].to_vec();
    let (code, message) = r.verify_bytes(&container::write(&missing, mtime).unwrap());
    assert_eq!(code, MISSING_FILE, "{message}");
    assert!(message.contains("firmware/fw.elf"), "{message}");

    // A validly signed manifest of a newer schema is refused as incompatible.
    let key = r.signing_key();
    let mut newer = entries.clone();
    let manifest = String::from_utf8(newer[0].bytes.clone())
        .unwrap()
        .replace("whittle.bundle/1", "whittle.bundle/2");
    let signature = key.sign(manifest.as_bytes());
    newer[0].bytes = manifest.into_bytes();
    newer[1].bytes = format!(
        "ed25519 {} {}\n",
        keys::key_id(&key.verifying_key()),
        whittle::bundle::hex(&signature.to_bytes())
    )
    .into_bytes();
    let (code, message) = r.verify_bytes(&container::write(&newer, mtime).unwrap());
    assert_eq!(code, INCOMPATIBLE, "{message}");
}

#[test]
fn bundle_refuses_a_failed_gate_and_non_executables() {
    let r = Release::new();
    let report = serde_json::json!({
        "schema": "whittle.pipeline.report/1",
        "passed": false,
        "verdict": "gate(s) failed: max_kl",
        "audit": {"target": "cortex-m4f"},
    });
    std::fs::write(r.path("report.json"), report.to_string()).unwrap();
    let out = r.bundle("x.wbundle", &["--report", &s(&r.path("report.json"))]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("release gate failed"), "{}", text(&out));
    assert!(!r.path("x.wbundle").exists());

    let out = r.bundle_only_firmware("model.wtl", "x.wbundle");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not an ELF"), "{}", text(&out));
    assert!(!r.path("x.wbundle").exists());
}

#[test]
fn unpack_writes_the_files_and_flashable_images_or_nothing() {
    let r = Release::new();
    let good = made(&r);
    let station = r.path("station");
    let out = whittle(&[
        "unpack",
        &s(&r.path("r.wbundle")),
        "-o",
        &s(&station),
        "--key",
        &s(&r.path("keys/whittle.pub")),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let model = std::fs::read(r.path("model.wtl")).unwrap();
    assert_eq!(std::fs::read(station.join("model.wtl")).unwrap(), model);
    assert_eq!(
        std::fs::read(station.join("firmware/fw.elf")).unwrap(),
        std::fs::read(r.path("fw.elf")).unwrap()
    );
    // The raw image is the segment's bytes at its load address, 0.
    assert_eq!(
        std::fs::read(station.join("firmware/fw.bin")).unwrap(),
        model
    );
    let hex = std::fs::read_to_string(station.join("firmware/fw.hex")).unwrap();
    assert!(hex.ends_with(":00000001FF\n"), "{hex}");
    let images: serde_json::Value =
        serde_json::from_slice(&std::fs::read(station.join("images.json")).unwrap()).unwrap();
    assert_eq!(images["images"][0]["base_address"], "0x00000000");
    assert_eq!(
        images["bundle_sha256"],
        whittle::bundle::sha256_hex(&good).as_str()
    );

    // Into an existing, non-empty directory: refused, nothing changed.
    let again = whittle(&["unpack", &s(&r.path("r.wbundle")), "-o", &s(&station)]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("not empty"), "{}", text(&again));

    // A bundle with a damaged model unpacks nothing.
    let model_at = good
        .windows(model.len())
        .position(|w| w == model.as_slice())
        .expect("the model is stored as is");
    let mut bad = good.clone();
    bad[model_at + 700] ^= 1;
    std::fs::write(r.path("bad.wbundle"), &bad).unwrap();
    let out = whittle(&[
        "unpack",
        &s(&r.path("bad.wbundle")),
        "-o",
        &s(&r.path("bad-station")),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!r.path("bad-station").exists());
    let leftovers: Vec<_> = std::fs::read_dir(r.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".whittle"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_gateway_program_rides_along_but_cannot_stand_in_for_the_device_firmware() {
    let r = Release::new();
    std::fs::write(r.path("gw-aarch64"), aarch64_program()).unwrap();
    let out = r.bundle("gw.wbundle", &["--firmware", &s(&r.path("gw-aarch64"))]);
    assert!(out.status.success(), "{}", text(&out));
    let out = r.verify(&r.path("gw.wbundle"), &["--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verified"], true);
    assert_eq!(
        json["files"],
        serde_json::json!(["model.wtl", "firmware/fw.elf", "firmware/gw-aarch64"])
    );
    let (entries, _) = container::read(&std::fs::read(r.path("gw.wbundle")).unwrap()).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&entries[0].bytes).unwrap();
    assert_eq!(manifest["files"][2]["arch"], "aarch64");

    let station = r.path("gw-station");
    let out = whittle(&["unpack", &s(&r.path("gw.wbundle")), "-o", &s(&station)]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(station.join("firmware/gw-aarch64")).unwrap(),
        aarch64_program()
    );
    assert!(station.join("firmware/fw.bin").exists());
    assert!(!station.join("firmware/gw-aarch64.bin").exists());

    // Only a gateway program, for a Cortex-M4F model: refused, naming what was found.
    let out = r.bundle_only_firmware("gw-aarch64", "x.wbundle");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no firmware is built for target 'cortex-m4f'")
            && text(&out).contains("gw-aarch64 (aarch64)"),
        "{}",
        text(&out)
    );
}
