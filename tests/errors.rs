//! Unsupported and malformed ONNX input gives a clear error naming what is wrong, never a
//! panic.

use whittle::error::CompileError;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::onnx::read::model_from_bytes;
use whittle::{CompileOptions, Tensor};
use whittle_tests::fixtures;

fn compile_bytes(bytes: &[u8]) -> Result<whittle::Compiled, CompileError> {
    let model = model_from_bytes(bytes).map_err(CompileError::Malformed)?;
    whittle::compile(&model, None, &CompileOptions::default())
}

#[test]
fn every_unsupported_node_is_listed_in_one_error() {
    let mut g = GraphBuilder::new("unsupported", 13);
    let x = g.input("x", &[1, 4, 8, 8]);
    let a = g.node("Resize", &[&x], vec![]);
    let b = g.node("Relu", &[&a], vec![]);
    let c = g.node("Pad", &[&b], vec![("mode", Attr::Str("reflect".into()))]);
    let d = g.node("LRN", &[&c], vec![("size", Attr::Int(3))]);
    g.output(&d, &[1, 4, 8, 8]);
    let err = compile_bytes(&g.to_bytes()).unwrap_err();
    let CompileError::Unsupported(list) = &err else {
        panic!("{err}")
    };
    let ops: Vec<&str> = list.iter().map(|u| u.op_type.as_str()).collect();
    assert_eq!(ops, ["Resize", "Pad", "LRN"], "{err}");
    let text = err.to_string();
    assert!(
        text.contains("resize_0") && text.contains("operator 'Resize' is not supported"),
        "{text}"
    );
    // `check` reports the same reason per node.
    let model = model_from_bytes(&{
        let mut g = GraphBuilder::new("pad", 13);
        let x = g.input("x", &[1, 4, 8, 8]);
        let p = g.node("Pad", &[&x], vec![("mode", Attr::Str("reflect".into()))]);
        g.output(&p, &[1, 4, 8, 8]);
        g.to_bytes()
    })
    .unwrap();
    let report = whittle::compile::check(&model, None, &CompileOptions::default()).unwrap();
    assert!(!report.compiles);
    assert!(
        report.nodes[0].detail.contains("Pad mode 'reflect'"),
        "{:?}",
        report.nodes
    );
}

#[test]
fn unsupported_attribute_names_the_attribute() {
    let mut g = GraphBuilder::new("conv3d", 13);
    let x = g.input("x", &[1, 2, 4, 4, 4]);
    let w = g.constant("w", &Tensor::f32(vec![2, 2, 1, 1, 1], vec![1.0; 4]));
    let y = g.node("Conv", &[&x, &w], vec![]);
    g.output(&y, &[1, 2, 4, 4, 4]);
    let err = compile_bytes(&g.to_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("conv_0") && err.contains("1-D and 2-D"),
        "{err}"
    );
}

#[test]
fn garbage_and_truncated_files_are_read_errors() {
    for bytes in [&b"not a model at all"[..], &[0xff; 64][..], &[][..]] {
        match compile_bytes(bytes) {
            Err(CompileError::Malformed(_)) => {}
            other => panic!("{:?}", other.map(|_| "compiled")),
        }
    }
    let good = fixtures::pytorch_residual();
    for cut in (1..good.len()).step_by(97) {
        // Any prefix is either rejected as protobuf or found structurally invalid.
        assert!(
            compile_bytes(&good[..cut]).is_err(),
            "prefix of {cut} bytes compiled"
        );
    }
}

#[test]
fn a_cycle_is_named() {
    let mut g = GraphBuilder::new("cycle", 13);
    let x = g.input("x", &[1, 4]);
    let mut model = {
        let a = g.node("Add", &[&x, "relu_1"], vec![]);
        let _ = g.node("Relu", &[&a], vec![]);
        g.output(&a, &[1, 4]);
        g.build()
    };
    let err = whittle::compile(&model, None, &CompileOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("cycle"), "{err}");
    model.graph.as_mut().unwrap().node[0].input[1] = "nowhere".into();
    let err = whittle::compile(&model, None, &CompileOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'nowhere'") && err.contains("nothing produces"),
        "{err}"
    );
}

#[test]
fn dynamic_non_batch_dimension_asks_for_input_shape() {
    let mut g = GraphBuilder::new("dynamic", 13);
    let x = g.input("x", &[1, -1]);
    let y = g.node("Relu", &[&x], vec![]);
    g.output(&y, &[1, -1]);
    let err = compile_bytes(&g.to_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("input 'x'")
            && err.contains("dimension 1 is dynamic")
            && err.contains("--input-shape"),
        "{err}"
    );
}

#[test]
fn mismatched_shapes_name_node_and_shapes() {
    let mut g = GraphBuilder::new("shapes", 13);
    let x = g.input("x", &[1, 5]);
    let w = g.constant("w", &Tensor::f32(vec![4, 3], vec![0.0; 12]));
    let y = g.node("MatMul", &[&x, &w], vec![]);
    g.output(&y, &[1, 3]);
    let err = compile_bytes(&g.to_bytes()).unwrap_err().to_string();
    assert!(
        err.contains("matmul_0") && err.contains("[1, 5]") && err.contains("[4, 3]"),
        "{err}"
    );
}

#[test]
fn weights_that_do_not_fit_the_target_are_refused_with_the_excess() {
    let mut g = GraphBuilder::new("big", 13);
    let x = g.input("x", &[1, 512]);
    let w = g.constant("w", &Tensor::f32(vec![512, 512], vec![0.01; 512 * 512]));
    let y = g.node("MatMul", &[&x, &w], vec![]);
    g.output(&y, &[1, 512]);
    let model = model_from_bytes(&g.to_bytes()).unwrap();
    let opts = CompileOptions {
        target: whittle::targets::Target::resolve("cortex-m0plus").unwrap(),
        ..Default::default()
    };
    let err = whittle::compile(&model, None, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cortex-m0plus") && err.contains("more than the 262144 available"),
        "{err}"
    );
}

#[test]
fn mutated_models_give_errors_not_panics() {
    let models = [
        fixtures::tflite_style(),
        fixtures::pytorch_residual(),
        fixtures::sequence_mlp(),
    ];
    let mut outcomes = (0, 0);
    for (m, good) in models.iter().enumerate() {
        let positions = whittle_tests::fixtures::noise(200 + m as u64, 1500, 1.0);
        let values = whittle_tests::fixtures::noise(300 + m as u64, 1500, 1.0);
        for (p, v) in positions.iter().zip(&values) {
            let mut bytes = good.clone();
            let at = ((p.abs() * bytes.len() as f32) as usize).min(bytes.len() - 1);
            bytes[at] = (v.abs() * 256.0) as u8;
            // Whatever compiles must load and run: the compiler only writes valid artifacts.
            let result = std::panic::catch_unwind(|| {
                compile_bytes(&bytes).map(|c| {
                    let mut runner =
                        whittle::run::Runner::new(&c.artifact).expect("compiled artifact loads");
                    let model = runner.model();
                    let inputs: Vec<Tensor> = (0..model.input_count())
                        .map(|i| {
                            let shape: Vec<usize> = model
                                .input(i)
                                .unwrap()
                                .shape
                                .dims()
                                .iter()
                                .map(|&d| d as usize)
                                .collect();
                            Tensor::f32(shape.clone(), vec![0.5; shape.iter().product()])
                        })
                        .collect();
                    runner.run(&inputs).expect("compiled artifact runs");
                })
            });
            match result {
                Ok(Ok(_)) => outcomes.0 += 1,
                Ok(Err(_)) => outcomes.1 += 1,
                Err(_) => panic!(
                    "model {m}: compiling with byte {at} set to {} panicked",
                    (v.abs() * 256.0) as u8
                ),
            }
        }
    }
    assert!(outcomes.1 > 0, "no mutation was rejected: {outcomes:?}");
}
