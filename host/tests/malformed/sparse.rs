//! A damaged sparse weight encoding: the artifact is refused at load, naming the fault.

use crate::{Sandbox, example, s};
use whittle_runtime::format::{OpKind, Preamble};
use whittle_runtime::{AlignedBytes, Model};

/// Flips the first bit of the first sparse operator's bitmap, then reseals the artifact so
/// that only the encoding is wrong (its checksums match).
fn flip_a_bitmap_bit(artifact: &mut [u8]) {
    let aligned = AlignedBytes::new(artifact);
    let model = Model::load(&aligned).unwrap();
    let bitmap = model
        .ops()
        .find_map(|op| match op.kind {
            OpKind::Conv2dI8Sparse(op) => Some(op.sparse.bitmap),
            OpKind::DenseI8Sparse(op) => Some(op.sparse.bitmap),
            _ => None,
        })
        .expect("a sparse operator");
    let at = Preamble::parse(artifact).unwrap().weights_offset as usize + bitmap.offset as usize;
    artifact[at] ^= 1;
    whittle::artifact::reseal(artifact);
}

#[test]
fn a_sparse_encoding_that_contradicts_its_offsets_is_refused() {
    let sb = Sandbox::new();
    let ex = example();
    let sparse = sb.path("sparse.onnx");
    let wtl = sb.path("sparse.wtl");
    let calib = ex.join("data/train.npz");
    let run = |args: &[&str]| {
        let out = crate::common::whittle(args);
        assert!(out.status.success(), "{}", crate::common::text(&out));
    };
    run(&[
        "prune",
        s(&ex.join("gesture.onnx")),
        "-o",
        s(&sparse),
        "--sparsity",
        "0.9",
        "--global",
    ]);
    run(&[
        "compile",
        s(&sparse),
        "--quantize",
        "int8",
        "--calib",
        s(&calib),
        "-o",
        s(&wtl),
        "--sparse",
        "auto",
    ]);
    let mut bytes = std::fs::read(&wtl).unwrap();
    flip_a_bitmap_bit(&mut bytes);
    std::fs::write(&wtl, &bytes).unwrap();
    sb.refuse(
        &["inspect", s(&wtl)],
        &["sparse.wtl", "sparse weight encoding inconsistent"],
    );
}
