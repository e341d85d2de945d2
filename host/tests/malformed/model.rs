//! Broken ONNX models: cut short, unsupported types, impossible shapes, bad graphs, bad
//! weights, and models too large for the target.

use crate::{Sandbox, example, s};
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::onnx::pb;
use whittle::{ElemType, Tensor};

/// `x [1, 4] -> Gemm(w [4, 3], b [3]) -> [1, 3]` with the given weights.
fn dense_with(w: Tensor, b: Tensor) -> GraphBuilder {
    let mut g = GraphBuilder::new("dense", 13);
    let x = g.input("x", &[1, 4]);
    let w = g.constant("w", &w);
    let b = g.constant("b", &b);
    let y = g.node("Gemm", &[&x, &w, &b], vec![]);
    g.output(&y, &[1, 3]);
    g
}

fn ramp(shape: Vec<usize>) -> Tensor {
    let n = shape.iter().product();
    Tensor::f32(shape, (0..n).map(|i| i as f32 / 10.0).collect())
}

/// `x [1, 2, 8, 8] -> Conv(w [4, 2, 3, 3], b [4]) -> [1, 4, 6, 6]` with the given bias.
fn conv_with_bias(b: Tensor) -> GraphBuilder {
    let mut g = GraphBuilder::new("conv", 13);
    let x = g.input("x", &[1, 2, 8, 8]);
    let w = g.constant("w", &ramp(vec![4, 2, 3, 3]));
    let b = g.constant("b", &b);
    let y = g.node(
        "Conv",
        &[&x, &w, &b],
        vec![("kernel_shape", Attr::Ints(vec![3, 3]))],
    );
    g.output(&y, &[1, 4, 6, 6]);
    g
}

/// Runs `compile` on `model` and expects a refusal naming the model file and `words`.
fn refuse_compile(sb: &Sandbox, model: &std::path::Path, words: &[&str]) -> String {
    let out = sb.path("out.wtl");
    let err = sb.refuse(&["compile", s(model), "-o", s(&out)], words);
    assert!(err.contains(s(model)), "the model file is not named: {err}");
    err
}

/// `compile` and `check` both refuse `model` with these words.
fn refuse_compile_and_check(sb: &Sandbox, model: &std::path::Path, words: &[&str]) {
    refuse_compile(sb, model, words);
    sb.refuse(&["check", s(model)], words);
}

#[test]
fn truncated_onnx_is_refused_by_compile_and_check() {
    let sb = Sandbox::new();
    let bytes = std::fs::read(example().join("gesture.onnx")).unwrap();
    for len in [0, 7, 100, bytes.len() / 2, bytes.len() - 1] {
        let model = sb.file("cut.onnx", &bytes[..len]);
        refuse_compile_and_check(&sb, &model, &["cut.onnx"]);
    }
    // A cut in the middle of a weight is named as such.
    let model = sb.file("cut.onnx", &bytes[..bytes.len() / 2]);
    let err = refuse_compile(&sb, &model, &["cut.onnx", "truncated"]);
    assert!(err.contains(&format!("{} bytes", bytes.len() / 2)), "{err}");
}

#[test]
fn unsupported_element_types_name_the_input_or_weight() {
    let sb = Sandbox::new();
    for (dtype, name) in [(ElemType::I64, "int64"), (ElemType::Other(8), "string")] {
        let mut g = GraphBuilder::new("typed", 13);
        let x = g.typed_input("tokens", dtype, &[1, 4]);
        let y = g.node("Relu", &[&x], vec![]);
        g.output(&y, &[1, 4]);
        let model = sb.model("typed.onnx", g);
        refuse_compile(&sb, &model, &["'tokens'", name]);
    }
    // A Conv weight of complex64 (ONNX type 14).
    let mut m = conv_with_bias(ramp(vec![4])).build();
    let graph = m.graph.as_mut().unwrap();
    let w = graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "w")
        .unwrap();
    w.data_type = 14;
    w.raw_data = vec![0; 4 * 2 * 3 * 3 * 8];
    let model = sb.proto("complex.onnx", &m);
    refuse_compile_and_check(&sb, &model, &["'w'", "complex64"]);
}

#[test]
fn a_zero_dimension_names_the_input_or_weight() {
    let sb = Sandbox::new();
    let mut g = GraphBuilder::new("empty-input", 13);
    let x = g.input("frames", &[1, 0, 4]);
    let y = g.node("Relu", &[&x], vec![]);
    g.output(&y, &[1, 0, 4]);
    let model = sb.model("zero.onnx", g);
    refuse_compile(&sb, &model, &["'frames'", "[1, 0, 4]"]);

    let g = dense_with(Tensor::f32(vec![4, 0], vec![]), ramp(vec![3]));
    let model = sb.model("zero.onnx", g);
    refuse_compile(&sb, &model, &["'w'", "[4, 0]"]);
}

#[test]
fn a_huge_dimension_is_refused_before_allocating() {
    let sb = Sandbox::new();
    let big = 1i64 << 31;
    let mut g = GraphBuilder::new("huge-input", 13);
    let x = g.input("image", &[1, big, big, 1]);
    let y = g.node("Relu", &[&x], vec![]);
    g.output(&y, &[1, big, big, 1]);
    let model = sb.model("huge.onnx", g);
    refuse_compile_and_check(&sb, &model, &["'image'", "2147483648"]);

    // Weights that claim 2^40 elements and hold 48 bytes.
    let mut m = dense_with(ramp(vec![4, 3]), ramp(vec![3])).build();
    let graph = m.graph.as_mut().unwrap();
    let w = graph
        .initializer
        .iter_mut()
        .find(|t| t.name == "w")
        .unwrap();
    w.dims = vec![1 << 20, 1 << 20];
    let model = sb.proto("huge.onnx", &m);
    refuse_compile(
        &sb,
        &model,
        &["'w'", "[1048576, 1048576]", "over 1073741824 elements"],
    );
}

#[test]
fn a_cycle_names_its_nodes() {
    let sb = Sandbox::new();
    let mut m = GraphBuilder::new("cycle", 13).build();
    let graph = m.graph.as_mut().unwrap();
    graph.input.push(whittle::onnx::build::value_info(
        "x",
        ElemType::F32,
        &[1, 4],
    ));
    let node = |name: &str, op: &str, inputs: &[&str]| pb::NodeProto {
        name: name.into(),
        op_type: op.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![format!("{name}_out")],
        ..Default::default()
    };
    graph.node = vec![
        node("first", "Add", &["x", "second_out"]),
        node("second", "Relu", &["first_out"]),
    ];
    graph.output.push(whittle::onnx::build::value_info(
        "second_out",
        ElemType::F32,
        &[1, 4],
    ));
    let model = sb.proto("cycle.onnx", &m);
    refuse_compile(&sb, &model, &["cycle", "'first'", "'second'"]);
    sb.refuse(&["check", s(&model)], &["cycle", "'first'"]);
}

#[test]
fn a_missing_initializer_names_the_node_and_the_value() {
    let sb = Sandbox::new();
    let mut g = GraphBuilder::new("missing", 13);
    let x = g.input("x", &[1, 4]);
    let b = g.constant("b", &ramp(vec![3]));
    let y = g.node("Gemm", &[&x, "w_missing", &b], vec![]);
    g.output(&y, &[1, 3]);
    let model = sb.model("missing.onnx", g);
    refuse_compile_and_check(&sb, &model, &["'w_missing'", "gemm_0"]);
}

#[test]
fn unknown_operators_and_custom_domains_are_named() {
    let sb = Sandbox::new();
    let mut g = GraphBuilder::new("fancy", 13);
    let x = g.input("x", &[1, 4]);
    let y = g.node("FancyOp", &[&x], vec![]);
    g.output(&y, &[1, 4]);
    let model = sb.model("fancy.onnx", g);
    refuse_compile(&sb, &model, &["fancyop_0", "FancyOp"]);
    // `check` lists it and exits 1 (a negative verdict), not 0.
    sb.refuse(&["check", s(&model)], &["fancyop_0", "FancyOp"]);

    // A standard-looking op from someone else's domain is not the ONNX operator.
    let mut g = GraphBuilder::new("custom", 13);
    let x = g.input("x", &[1, 4]);
    let y = g.node("Relu", &[&x], vec![]);
    g.output(&y, &[1, 4]);
    let mut m = g.build();
    m.graph.as_mut().unwrap().node[0].domain = "com.acme".into();
    m.opset_import.push(pb::OperatorSetIdProto {
        domain: "com.acme".into(),
        version: 1,
    });
    let model = sb.proto("custom.onnx", &m);
    refuse_compile_and_check(&sb, &model, &["relu_0", "com.acme"]);
}

#[test]
fn nan_and_inf_weights_name_the_initializer_and_element() {
    let sb = Sandbox::new();
    let mut w = ramp(vec![4, 3]).to_f32();
    w[5] = f32::NAN;
    let model = sb.model(
        "nan.onnx",
        dense_with(Tensor::f32(vec![4, 3], w), ramp(vec![3])),
    );
    refuse_compile(&sb, &model, &["'w'", "NaN", "element 5", "gemm_0"]);

    let model = sb.model(
        "inf.onnx",
        conv_with_bias(Tensor::f32(vec![4], vec![0.0, f32::INFINITY, 0.0, 0.0])),
    );
    refuse_compile(&sb, &model, &["'b'", "inf", "element 1", "conv_0"]);
}

#[test]
fn weights_over_the_flash_budget_are_refused_with_the_excess() {
    let sb = Sandbox::new();
    // 256 x 300 float weights: 307,200 bytes against cortex-m0plus's 256 KiB of flash.
    let mut g = GraphBuilder::new("wide", 13);
    let x = g.input("x", &[1, 256]);
    let w = g.constant("w", &ramp(vec![256, 300]));
    let y = g.node("Gemm", &[&x, &w], vec![]);
    g.output(&y, &[1, 300]);
    let model = sb.model("wide.onnx", g);
    let out = sb.path("out.wtl");
    let err = sb.refuse(
        &for_m0plus(&model, &out),
        &["cortex-m0plus", "flash", "more than the 262144"],
    );
    assert_excess(&err, 262_144);

    // An arena of 2 x 40,000 bytes against its 32 KiB of RAM.
    let mut g = GraphBuilder::new("tall", 13);
    let x = g.input("x", &[1, 10_000]);
    let y = g.node("Relu", &[&x], vec![]);
    let z = g.node("Sigmoid", &[&y], vec![]);
    g.output(&z, &[1, 10_000]);
    let model = sb.model("tall.onnx", g);
    let err = sb.refuse(
        &for_m0plus(&model, &out),
        &["cortex-m0plus", "arena", "more than the 32768"],
    );
    assert_excess(&err, 32_768);
}

/// `compile MODEL -o OUT --target cortex-m0plus`.
fn for_m0plus<'a>(model: &'a std::path::Path, out: &'a std::path::Path) -> [&'a str; 6] {
    [
        "compile",
        s(model),
        "-o",
        s(out),
        "--target",
        "cortex-m0plus",
    ]
}

/// That a budget error `... N <what> bytes, E more than the B available` states the excess
/// right: `E = N - B`.
fn assert_excess(err: &str, budget: u64) {
    let numbers: Vec<u64> = err
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let at = numbers
        .iter()
        .position(|&n| n == budget)
        .expect("the budget");
    let (need, excess) = (numbers[at - 2], numbers[at - 1]);
    assert_eq!(need - budget, excess, "{err}");
}
