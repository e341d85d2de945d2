//! Sparse int8 weights on the example model: magnitude pruning, then an int8 compilation that
//! stores weights sparse only where that is smaller, computes exactly what the dense
//! compilation computes, and whose damaged encodings `load` refuses.

use std::path::{Path, PathBuf};
use whittle::compile::{CompileOptions, compile};
use whittle::lower::sparse::SparseMode;
use whittle::onnx::pb;
use whittle::prune::sparsity::{SparsityOptions, sparsify};
use whittle::quantize::{Method, QuantizeOptions};
use whittle::run::Runner;
use whittle_runtime::format::{Buf, OpKind, Preamble};
use whittle_runtime::{AlignedBytes, LoadError, Model, OpFault};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gesture")
}

fn data(split: &str, key: &str) -> whittle::Tensor {
    let arrays = whittle::data::read_arrays(&example().join(format!("data/{split}.npz"))).unwrap();
    arrays.into_iter().find(|(n, _)| n == key).unwrap().1
}

fn model(sparsity: f64) -> pb::ModelProto {
    let path = example().join("gesture.onnx");
    let model = whittle::compile::load_onnx(&path).unwrap();
    if sparsity == 0.0 {
        return model;
    }
    let opts = SparsityOptions {
        sparsity,
        global: true,
    };
    sparsify(&model, path.parent(), &opts).unwrap().model
}

fn int8(model: &pb::ModelProto, sparse: SparseMode) -> Vec<u8> {
    let opts = CompileOptions {
        quantize: Some(QuantizeOptions {
            calibration: vec![data("train", "x")],
            method: Method::Mse,
            samples: None,
            bias_correction: false,
            int8_io: false,
            keep_float: Vec::new(),
            calibrated: None,
        }),
        sparse,
        ..CompileOptions::default()
    };
    compile(model, None, &opts).unwrap().artifact
}

fn sparse_ops(artifact: &[u8]) -> Vec<OpKind> {
    let bytes = AlignedBytes::new(artifact);
    let model = Model::load(&bytes).unwrap();
    model
        .ops()
        .map(|op| op.kind)
        .filter(|k| matches!(k, OpKind::Conv2dI8Sparse(_) | OpKind::DenseI8Sparse(_)))
        .collect()
}

/// Outputs on the validation set, as bits.
fn outputs(artifact: &[u8]) -> Vec<u32> {
    let out = Runner::new(artifact)
        .unwrap()
        .run(&[data("val", "x")])
        .unwrap();
    out[0].to_f32().iter().map(|v| v.to_bits()).collect()
}

#[test]
fn magnitude_pruning_zeroes_the_smallest_weights_of_each_layer() {
    let path = example().join("gesture.onnx");
    let original = whittle::compile::load_onnx(&path).unwrap();
    let opts = SparsityOptions {
        sparsity: 0.6,
        global: false,
    };
    let pruned = sparsify(&original, path.parent(), &opts).unwrap();
    assert_eq!(pruned.layers.len(), 5);
    let graph = |m: &pb::ModelProto| m.graph.clone().unwrap();
    let (before, after) = (graph(&original), graph(&pruned.model));
    for layer in &pruned.layers {
        let find = |g: &pb::GraphProto| {
            let init = g
                .initializer
                .iter()
                .find(|i| i.name == layer.tensor)
                .unwrap();
            whittle::onnx::read::tensor_from_proto(init, None).unwrap()
        };
        let (old, new) = (find(&before), find(&after));
        assert_eq!(old.shape, new.shape);
        let (old, new) = (old.to_f32(), new.to_f32());
        let zeros = new.iter().filter(|v| **v == 0.0).count();
        assert_eq!(
            zeros,
            (0.6 * old.len() as f64).round() as usize,
            "{}",
            layer.tensor
        );
        assert_eq!(zeros, layer.zeros_after);
        // Every weight kept is at least as large as every weight zeroed, and kept unchanged.
        let kept_min = (0..old.len())
            .filter(|&i| new[i] != 0.0)
            .map(|i| old[i].abs())
            .fold(f32::INFINITY, f32::min);
        for i in 0..old.len() {
            if new[i] == 0.0 {
                assert!(old[i].abs() <= kept_min, "{} [{i}]", layer.tensor);
            } else {
                assert_eq!(new[i], old[i]);
            }
        }
    }
}

#[test]
fn sparse_weights_are_used_only_where_smaller_and_compute_the_same_bits() {
    // The unpruned model has few zero weights: nothing is stored sparse, the bytes are those
    // of a dense compilation.
    let dense_model = model(0.0);
    let auto = int8(&dense_model, SparseMode::Auto);
    assert!(sparse_ops(&auto).is_empty());
    assert_eq!(auto, int8(&dense_model, SparseMode::Off));

    let mut sizes = Vec::new();
    for sparsity in [0.5, 0.9] {
        let pruned = model(sparsity);
        let (auto, off) = (
            int8(&pruned, SparseMode::Auto),
            int8(&pruned, SparseMode::Off),
        );
        assert!(sparse_ops(&off).is_empty());
        assert!(!sparse_ops(&auto).is_empty(), "sparsity {sparsity}");
        assert!(
            auto.len() < off.len(),
            "sparsity {sparsity}: {} >= {} bytes",
            auto.len(),
            off.len()
        );
        assert_eq!(outputs(&auto), outputs(&off), "sparsity {sparsity}");
        sizes.push(auto.len());
    }
    // More zeros, fewer bytes.
    assert!(sizes[1] < sizes[0], "{sizes:?}");
}

type Range = std::ops::Range<usize>;

/// Where each sparse operator's encoding lies in the artifact: bitmap, offsets (byte ranges
/// of the file) and the row length.
fn encodings(artifact: &[u8]) -> Vec<(Range, Range, usize)> {
    let blob = Preamble::parse(artifact).unwrap().weights_offset as usize;
    let range = |b: Buf| blob + b.offset as usize..blob + b.end() as usize;
    let place = |kind: OpKind| match kind {
        OpKind::Conv2dI8Sparse(op) => {
            let g = op.conv.geom;
            let row = (g.kernel_h * g.kernel_w * g.in_c / g.groups) as usize;
            (range(op.sparse.bitmap), range(op.sparse.offsets), row)
        }
        OpKind::DenseI8Sparse(op) => (
            range(op.sparse.bitmap),
            range(op.sparse.offsets),
            op.dense.in_features as usize,
        ),
        _ => unreachable!(),
    };
    sparse_ops(artifact).into_iter().map(place).collect()
}

fn load_fault(artifact: &[u8]) -> Option<OpFault> {
    let bytes = AlignedBytes::new(artifact);
    match Model::load(&bytes) {
        Ok(_) => None,
        Err(LoadError::InvalidOp { fault, .. }) => Some(fault),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn damaged_sparse_encodings_are_refused_at_load() {
    let good = int8(&model(0.9), SparseMode::Auto);
    assert_eq!(load_fault(&good), None);
    let all = encodings(&good);
    let (bitmap, offsets, _) = all[0].clone();
    let damaged = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = good.clone();
        edit(&mut bytes);
        whittle::artifact::reseal(&mut bytes);
        load_fault(&bytes)
    };
    let bad = Some(OpFault::BadEncoding);
    // A bit more or less in the first row than its offsets say.
    assert_eq!(damaged(&|b| b[bitmap.start] ^= 1), bad);
    // The first offset not zero; an offset stepping back; the last not the value count.
    assert_eq!(damaged(&|b| b[offsets.start] = 1), bad);
    assert_eq!(
        damaged(&|b| b[offsets.start + 4] = b[offsets.start + 4].wrapping_sub(1)),
        bad
    );
    assert_eq!(damaged(&|b| b[offsets.end - 4] ^= 0x40), bad);
    // A bit set past the end of a row (in its last byte's padding), offsets adjusted.
    let (bitmap, offsets, row_len) = all
        .iter()
        .find(|(.., row_len)| row_len % 8 != 0)
        .cloned()
        .expect("a sparse layer whose rows do not fill whole bytes");
    {
        let last = bitmap.start + row_len.div_ceil(8) - 1;
        let edit = |b: &mut Vec<u8>| {
            b[last] |= 0x80;
            // Keep the popcounts consistent so that only the padding bit is wrong.
            for o in (offsets.start + 4..offsets.end).step_by(4) {
                let v = u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) + 1;
                b[o..o + 4].copy_from_slice(&v.to_le_bytes());
            }
        };
        assert_eq!(damaged(&edit), bad);
    }
}

/// Zero weights of every pruned layer of `model`, by tensor name.
fn zero_positions(model: &pb::ModelProto, tensors: &[String]) -> Vec<Vec<bool>> {
    let graph = model.graph.as_ref().unwrap();
    tensors
        .iter()
        .map(|name| {
            let init = graph.initializer.iter().find(|i| &i.name == name).unwrap();
            let t = whittle::onnx::read::tensor_from_proto(init, None).unwrap();
            t.to_f32().iter().map(|v| *v == 0.0).collect()
        })
        .collect()
}

#[test]
fn distilling_with_keep_zeros_recovers_accuracy_and_keeps_the_sparsity() {
    use whittle::distill::{Data, DistillOptions, Optimizer, Student, distill};
    use whittle::import::ImportOptions;

    let path = example().join("gesture.onnx");
    let original = whittle::compile::load_onnx(&path).unwrap();
    let opts = SparsityOptions {
        sparsity: 0.7,
        global: true,
    };
    let pruned = sparsify(&original, path.parent(), &opts).unwrap();
    let tensors: Vec<String> = pruned.layers.iter().map(|l| l.tensor.clone()).collect();
    let zeros_before = zero_positions(&pruned.model, &tensors);

    let labelled = |split: &str| Data {
        x: data(split, "x"),
        labels: Some(data(split, "y").to_i64()),
    };
    let (train, val) = (labelled("train"), labelled("val"));
    let student = |m: &pb::ModelProto| Student::new(m, None, &ImportOptions::default()).unwrap();
    let options = DistillOptions {
        epochs: 6,
        lr: 3e-3,
        optimizer: Optimizer::Adam,
        keep_zeros: true,
        ..DistillOptions::default()
    };
    let kept = distill(
        &student(&pruned.model),
        &path,
        &train,
        Some(&val),
        &options,
        |_| {},
    )
    .unwrap();
    let before = kept.val_top1_before.unwrap();
    let after = kept.history.last().unwrap().val_top1.unwrap();

    // Every weight pruned to zero is still exactly zero; the others trained.
    let zeros_after = zero_positions(&kept.model, &tensors);
    for (name, (b, a)) in tensors.iter().zip(zeros_before.iter().zip(&zeros_after)) {
        for (i, (&zb, &za)) in b.iter().zip(a).enumerate() {
            assert!(!zb || za, "{name}[{i}] was zero and is not any more");
        }
    }
    // Without the option the zeros are trained away (one epoch is enough to show it).
    let free = DistillOptions {
        epochs: 1,
        keep_zeros: false,
        ..options
    };
    let freed = distill(&student(&pruned.model), &path, &train, None, &free, |_| {}).unwrap();
    let count = |z: &[Vec<bool>]| z.iter().flatten().filter(|z| **z).count();
    let zeros_freed = count(&zero_positions(&freed.model, &tensors));
    assert!(zeros_freed < count(&zeros_before) / 10, "{zeros_freed}");

    // The distilled model still compiles sparse, as small as the pruned one.
    let size_pruned = int8(&pruned.model, SparseMode::Auto).len();
    let distilled = int8(&kept.model, SparseMode::Auto);
    let (dense, sparse) = (int8(&kept.model, SparseMode::Off).len(), distilled.len());
    println!(
        "sparsity 0.7 global: val top-1 pruned {:.2}% -> distilled with --keep-zeros {:.2}%; \
         int8 bytes dense {dense}, sparse {sparse} (pruned, sparse: {size_pruned})",
        100.0 * before,
        100.0 * after
    );
    assert!(!sparse_ops(&distilled).is_empty());
    assert!(
        sparse < dense && sparse <= size_pruned + 64,
        "{sparse} {dense} {size_pruned}"
    );
    assert!(after > before + 0.2 && after > 0.9, "{before} -> {after}");
}
