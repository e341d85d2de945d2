//! The loader rejects damaged artifacts with the right typed error and never panics; an
//! artifact whose header was altered (with a valid checksum) is either rejected or runs
//! without panicking.

use whittle::CompileOptions;
use whittle_runtime::format::{FORMAT_VERSION, PREAMBLE_LEN};
use whittle_runtime::{AlignedBytes, Interpreter, LoadError, Model, crc32};
use whittle_tests::fixtures::{self, noise};
use whittle_tests::temp_model;

fn artifact() -> Vec<u8> {
    let (_dir, path) = temp_model("tflite.onnx", &fixtures::tflite_style());
    whittle::compile_path(&path, &CompileOptions::default())
        .expect("compile")
        .artifact
}

fn load(bytes: &[u8]) -> Result<(), LoadError> {
    let aligned = AlignedBytes::new(bytes);
    Model::load(&aligned).map(|_| ())
}

/// Rewrites the digest and CRC trailer so that only the deliberate change is seen.
fn reseal(bytes: &mut [u8]) {
    whittle::artifact::reseal(bytes);
}

/// Rewrites only the CRC-32, as a damage that happens to keep the CRC right would.
fn reseal_crc_only(bytes: &mut [u8]) {
    let n = bytes.len();
    let crc = crc32(&bytes[..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn a_valid_artifact_loads() {
    assert_eq!(load(&artifact()), Ok(()));
}

#[test]
fn truncation_anywhere_is_reported_as_truncated() {
    let bytes = artifact();
    for len in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        match load(&bytes[..len]) {
            Err(LoadError::Truncated { got, .. }) => assert_eq!(got as usize, len),
            Err(LoadError::BadMagic) if len >= 8 => panic!("length {len}: magic was intact"),
            Err(LoadError::BadMagic) => {}
            other => panic!("length {len}: {other:?}"),
        }
    }
}

#[test]
fn wrong_magic_is_bad_magic() {
    let mut bytes = artifact();
    bytes[1] = b'X';
    assert_eq!(load(&bytes), Err(LoadError::BadMagic));
    assert_eq!(
        load(b"PK\x03\x04 definitely not an artifact, but long enough to have a preamble"),
        Err(LoadError::BadMagic)
    );
}

#[test]
fn wrong_version_is_unsupported_version() {
    let mut bytes = artifact();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(
        load(&bytes),
        Err(LoadError::UnsupportedVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION
        })
    );
}

#[test]
fn every_single_bit_flip_past_the_preamble_is_caught_by_the_checksum() {
    let bytes = artifact();
    for pos in PREAMBLE_LEN..bytes.len() {
        for bit in [0, 3, 7] {
            let mut damaged = bytes.clone();
            damaged[pos] ^= 1 << bit;
            match load(&damaged) {
                Err(LoadError::ChecksumMismatch { .. }) => {}
                other => panic!("flip of bit {bit} at byte {pos}: {other:?}"),
            }
        }
    }
}

#[test]
fn damage_that_keeps_the_crc_right_is_caught_by_the_digest() {
    let bytes = artifact();
    let aligned = AlignedBytes::new(&bytes);
    let model = Model::load(&aligned).expect("load");
    assert!(model.digest().is_some(), "the compiler writes a digest");
    let weights_at = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    for pos in [PREAMBLE_LEN, PREAMBLE_LEN + 5, weights_at, bytes.len() - 40] {
        let mut damaged = bytes.clone();
        damaged[pos] ^= 0x10;
        reseal_crc_only(&mut damaged);
        assert_eq!(load(&damaged), Err(LoadError::DigestMismatch), "byte {pos}");
    }
}

#[test]
fn a_damaged_artifact_still_loads_for_diagnosis() {
    let bytes = artifact();
    let weights_at = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let mut damaged = bytes.clone();
    damaged[weights_at + 3] ^= 0x40;
    assert!(matches!(
        load(&damaged),
        Err(LoadError::ChecksumMismatch { .. })
    ));
    let aligned = AlignedBytes::new(&damaged);
    let model = Model::load_for_diagnosis(&aligned).expect("structure intact");
    let mut arena = vec![0u8; model.arena_bytes() + 16];
    Interpreter::new(&model, &mut arena)
        .expect("arena")
        .invoke()
        .expect("runs");
    // Structural damage is still refused.
    let mut broken = bytes.clone();
    broken[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let aligned = AlignedBytes::new(&broken);
    assert_eq!(
        Model::load_for_diagnosis(&aligned).err(),
        Some(LoadError::BadLayout)
    );
}

#[test]
fn unknown_flags_are_refused() {
    let mut bytes = artifact();
    bytes[12..16].copy_from_slice(&0x0000_0003u32.to_le_bytes());
    reseal(&mut bytes);
    assert_eq!(load(&bytes), Err(LoadError::UnsupportedFlags { found: 3 }));
}

#[test]
fn preamble_bit_flips_are_rejected() {
    let bytes = artifact();
    for pos in 0..PREAMBLE_LEN {
        for bit in 0..8 {
            let mut damaged = bytes.clone();
            damaged[pos] ^= 1 << bit;
            assert!(
                load(&damaged).is_err(),
                "flip of bit {bit} at byte {pos} loaded"
            );
        }
    }
}

#[test]
fn resealed_header_mutations_never_panic() {
    let bytes = artifact();
    let header_len = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let positions = noise(99, 4000, 1.0);
    let values = noise(100, 4000, 1.0);
    let mut accepted = 0;
    for (p, v) in positions.iter().zip(&values) {
        let mut damaged = bytes.clone();
        let pos = PREAMBLE_LEN + ((p.abs() * header_len as f32) as usize).min(header_len - 1);
        damaged[pos] = (v.abs() * 255.0) as u8;
        reseal(&mut damaged);
        let aligned = AlignedBytes::new(&damaged);
        if let Ok(model) = Model::load(&aligned) {
            accepted += 1;
            let mut arena = vec![0u8; model.arena_bytes() + 16];
            let mut interp =
                Interpreter::new(&model, &mut arena).expect("arena sized by the model");
            let _ = interp.invoke();
        }
    }
    // Most mutations of offsets/shapes are caught; some (names, equal values) are harmless.
    assert!(accepted < 4000, "no mutation was rejected");
}

#[test]
fn target_mismatch_is_a_typed_error() {
    let bytes = artifact();
    let aligned = AlignedBytes::new(&bytes);
    assert!(Model::load_for_target(&aligned, "generic").is_ok());
    assert_eq!(
        Model::load_for_target(&aligned, "cortex-m4f").err(),
        Some(LoadError::TargetMismatch)
    );
}

#[test]
fn misaligned_weights_are_refused() {
    let bytes = artifact();
    let aligned = AlignedBytes::new(&[&[0u8][..], &bytes].concat());
    assert_eq!(
        Model::load(&aligned[1..]).err(),
        Some(LoadError::Misaligned { required: 4 })
    );
}
