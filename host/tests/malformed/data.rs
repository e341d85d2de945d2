//! Broken data files: non-finite or empty calibration data, labels out of range, shapes that
//! do not fit the model, hostile headers, garbage, and label counts that do not match.

use crate::{Sandbox, example, gesture_artifact, labels, s, samples};
use whittle::Tensor;

/// The example model (input `accel`, `[N, 3, 64]`, five classes).
fn gesture() -> std::path::PathBuf {
    example().join("gesture.onnx")
}

/// `compile --quantize int8 --calib calib` of the example model, expected to be refused.
fn refuse_calibration(sb: &Sandbox, calib: &std::path::Path, words: &[&str]) -> String {
    let out = sb.path("out.wtl");
    sb.refuse(
        &[
            "compile",
            s(&gesture()),
            "-o",
            s(&out),
            "--quantize",
            "int8",
            "--calib",
            s(calib),
        ],
        words,
    )
}

#[test]
fn nan_and_inf_calibration_samples_are_named() {
    let sb = Sandbox::new();
    for (value, word) in [(f32::NAN, "NaN"), (f32::NEG_INFINITY, "inf")] {
        let mut x = samples(&[8, 3, 64]).to_f32();
        x[3 * 192 + 17] = value;
        let calib = sb.npz("calib.npz", &[("x", Tensor::f32(vec![8, 3, 64], x))]);
        refuse_calibration(&sb, &calib, &["calib.npz", word, "sample 3"]);
    }
}

#[test]
fn empty_datasets_are_refused_for_calibration_and_eval() {
    let sb = Sandbox::new();
    let calib = sb.npz("empty.npz", &[("x", Tensor::f32(vec![0, 3, 64], vec![]))]);
    refuse_calibration(&sb, &calib, &["empty.npz", "no samples"]);

    let wtl = gesture_artifact(&sb);
    let data = sb.npz(
        "empty.npz",
        &[
            ("x", Tensor::f32(vec![0, 3, 64], vec![])),
            ("y", labels(&[])),
        ],
    );
    sb.refuse(
        &["eval", s(&wtl), "--data", s(&data)],
        &["empty.npz", "no samples"],
    );
}

#[test]
fn eval_labels_outside_the_classes_are_named() {
    let sb = Sandbox::new();
    let wtl = gesture_artifact(&sb);
    for (bad, word) in [(5, "label 5"), (-1, "label -1")] {
        let data = sb.npz(
            "labelled.npz",
            &[("x", samples(&[4, 3, 64])), ("y", labels(&[0, 1, bad, 2]))],
        );
        sb.refuse(
            &["eval", s(&wtl), "--data", s(&data)],
            &["labelled.npz", word, "5 classes", "sample 2"],
        );
    }
}

#[test]
fn data_of_the_wrong_shape_names_the_input_and_both_shapes() {
    let sb = Sandbox::new();
    let calib = sb.npz("narrow.npz", &[("x", samples(&[8, 3, 32]))]);
    refuse_calibration(
        &sb,
        &calib,
        &["narrow.npz", "'accel'", "[8, 3, 32]", "[1, 3, 64]"],
    );

    let wtl = gesture_artifact(&sb);
    let data = sb.npz(
        "transposed.npz",
        &[("x", samples(&[4, 64, 3])), ("y", labels(&[0, 1, 2, 3]))],
    );
    sb.refuse(
        &["eval", s(&wtl), "--data", s(&data)],
        &["transposed.npz", "'accel'", "[4, 64, 3]", "[1, 3, 64]"],
    );
}

/// A version-1 `.npy` header followed by `body`.
fn npy_with_header(header: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A one-entry stored zip whose headers state `claimed` as the entry's uncompressed size.
fn zip_claiming(name: &str, data: &[u8], claimed: u32) -> Vec<u8> {
    let crc = whittle_runtime::crc32(data);
    let (u16s, u32s) = (
        |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes()),
        |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes()),
    );
    // Version needed, flags, method (stored), time, date (1980-01-01), CRC, sizes, name length.
    let common = |v: &mut Vec<u8>| {
        for x in [20, 0, 0, 0, 0x21] {
            u16s(v, x);
        }
        u32s(v, crc);
        u32s(v, data.len() as u32);
        u32s(v, claimed);
        u16s(v, name.len() as u16);
        u16s(v, 0); // extra field length
    };
    let mut out = Vec::new();
    u32s(&mut out, 0x0403_4b50);
    common(&mut out);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let directory_at = out.len() as u32;
    u32s(&mut out, 0x0201_4b50);
    u16s(&mut out, 20); // version made by
    common(&mut out);
    for x in [0, 0, 0] {
        u16s(&mut out, x); // comment length, disk, internal attributes
    }
    u32s(&mut out, 0); // external attributes
    u32s(&mut out, 0); // offset of the local header
    out.extend_from_slice(name.as_bytes());
    let directory_len = out.len() as u32 - directory_at;
    u32s(&mut out, 0x0605_4b50);
    for x in [0, 0, 1, 1] {
        u16s(&mut out, x);
    }
    u32s(&mut out, directory_len);
    u32s(&mut out, directory_at);
    u16s(&mut out, 0);
    out
}

#[test]
fn hostile_npy_and_npz_headers_are_refused_without_allocating() {
    let sb = Sandbox::new();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }\n";
    let calib = sb.file("huge.npy", &npy_with_header(header, &[0; 16]));
    refuse_calibration(&sb, &calib, &["huge.npy", "1000000000", "16 bytes"]);

    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (4000000, 3, 64), }\n";
    let npy = npy_with_header(header, &[0; 64]);
    let calib = sb.file("huge.npz", &zip_claiming("x.npy", &npy, u32::MAX));
    refuse_calibration(
        &sb,
        &calib,
        &["huge.npz", "array 'x'", "claims 4294967295 bytes"],
    );
}

#[test]
fn garbage_and_missing_data_files_are_named() {
    let sb = Sandbox::new();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let calib = sb.file("garbage.npz", &garbage);
    refuse_calibration(&sb, &calib, &["garbage.npz", "not an .npz archive"]);
    let calib = sb.file("garbage.npy", &garbage);
    refuse_calibration(&sb, &calib, &["garbage.npy", "not a .npy file"]);

    let missing = sb.path("missing.npz");
    refuse_calibration(&sb, &missing, &["missing.npz", "No such file"]);
    let wtl = gesture_artifact(&sb);
    sb.refuse(
        &["eval", s(&wtl), "--data", s(&missing)],
        &["missing.npz", "No such file"],
    );
}

#[test]
fn prune_and_distill_refuse_labels_that_do_not_match_the_samples() {
    let sb = Sandbox::new();
    let data = sb.npz(
        "short.npz",
        &[("x", samples(&[6, 3, 64])), ("y", labels(&[0, 1, 2, 3, 4]))],
    );
    let out = sb.path("out.onnx");
    sb.refuse(
        &[
            "prune",
            s(&gesture()),
            "-o",
            s(&out),
            "--ratio",
            "0.25",
            "--data",
            s(&data),
            "--sensitivity",
            s(&sb.path("sensitivity.json")),
        ],
        &["short.npz", "6 samples", "5 labels"],
    );
    sb.refuse(
        &[
            "distill",
            s(&gesture()),
            "--teacher",
            s(&gesture()),
            "--data",
            s(&data),
            "-o",
            s(&out),
            "--epochs",
            "1",
        ],
        &["short.npz", "6 samples", "5 labels"],
    );
}
