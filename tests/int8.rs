//! int8 end to end: pre-quantized (QDQ) fixtures become integer operators matching the float
//! simulation of the same QDQ graph; post-training quantization of every int8-capable
//! operator stays within a few output steps of float; the example model keeps its accuracy.

use whittle::error::CompileError;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::quantize::{Method, QuantizeOptions};
use whittle::run::Runner;
use whittle::tensor::ElemType;
use whittle::{CompileOptions, Tensor};
use whittle_tests::fixtures::noise;
use whittle_tests::{npy, temp_model, workspace_root};

fn ptq(calibration: Tensor) -> QuantizeOptions {
    QuantizeOptions {
        calibration: vec![calibration],
        method: Method::Mse,
        samples: None,
        bias_correction: false,
        int8_io: false,
        keep_float: Vec::new(),
        calibrated: None,
    }
}

fn compile_bytes(bytes: &[u8], opts: &CompileOptions) -> Result<whittle::Compiled, CompileError> {
    let model = whittle::onnx::read::model_from_bytes(bytes).map_err(CompileError::Malformed)?;
    whittle::compile(&model, None, opts)
}

fn op_names(c: &whittle::Compiled) -> Vec<&'static str> {
    c.program.ops.iter().map(|o| o.kind.name()).collect()
}

/// Adds `DequantizeLinear(int8 constant)` with per-channel scales along `axis`.
fn dq_weights(g: &mut GraphBuilder, name: &str, shape: &[usize], axis: i64, seed: u64) -> String {
    let n: usize = shape.iter().product();
    let ints: Vec<i64> = noise(seed, n, 127.0)
        .iter()
        .map(|v| v.round() as i64)
        .collect();
    let channels = shape[axis as usize];
    let scales: Vec<f32> = (0..channels).map(|c| 0.002 + 0.001 * c as f32).collect();
    let q = g.constant(
        &format!("{name}.q"),
        &Tensor::int(ElemType::I8, shape.to_vec(), ints),
    );
    let s = g.constant(
        &format!("{name}.scale"),
        &Tensor::f32(vec![channels], scales),
    );
    let z = g.constant(
        &format!("{name}.zp"),
        &Tensor::int(ElemType::I8, vec![channels], vec![0; channels]),
    );
    g.node(
        "DequantizeLinear",
        &[&q, &s, &z],
        vec![("axis", Attr::Int(axis))],
    )
}

/// `Q -> DQ` with per-tensor parameters, as exporters put around every activation; int8, or
/// uint8 (ONNX Runtime's default) when `unsigned`.
fn qdq_typed(g: &mut GraphBuilder, x: &str, scale: f32, zero_point: i64, unsigned: bool) -> String {
    let id = x.replace([':', '/'], "_");
    let s = g.constant(&format!("{id}.s"), &Tensor::f32(vec![], vec![scale]));
    let zp = if unsigned {
        Tensor::int(ElemType::U8, vec![], vec![zero_point + 128])
    } else {
        Tensor::int(ElemType::I8, vec![], vec![zero_point])
    };
    let z = g.constant(&format!("{id}.z"), &zp);
    let q = g.node("QuantizeLinear", &[x, &s, &z], vec![]);
    g.node("DequantizeLinear", &[&q, &s, &z], vec![])
}

fn qdq(g: &mut GraphBuilder, x: &str, scale: f32, zero_point: i64) -> String {
    qdq_typed(g, x, scale, zero_point, false)
}

/// A small QDQ network: convolution with ReLU, residual Add, average pooling, linear head.
fn qdq_fixture() -> Vec<u8> {
    let mut g = GraphBuilder::new("qdq", 13);
    let x = g.input("image", &[1, 4, 8, 8]);
    let x = qdq(&mut g, &x, 0.02, 3);
    let w = dq_weights(&mut g, "conv", &[4, 4, 3, 3], 0, 1);
    let c = g.node(
        "Conv",
        &[&x, &w],
        vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))],
    );
    let c = g.node("Relu", &[&c], vec![]);
    let c = qdq(&mut g, &c, 0.01, -128);
    let sum = g.node("Add", &[&x, &c], vec![]);
    let sum = qdq(&mut g, &sum, 0.025, -10);
    let p = g.node(
        "AveragePool",
        &[&sum],
        vec![("kernel_shape", Attr::Ints(vec![8, 8]))],
    );
    let p = qdq(&mut g, &p, 0.025, -10);
    let f = g.node("Flatten", &[&p], vec![]);
    let w2 = dq_weights(&mut g, "fc", &[4, 3], 1, 2);
    let y = g.node("MatMul", &[&f, &w2], vec![]);
    let y = qdq(&mut g, &y, 0.005, 0);
    g.output(&y, &[1, 3]);
    g.to_bytes()
}

#[test]
fn uint8_activations_run_as_int8() {
    let mut g = GraphBuilder::new("qdq_u8", 13);
    let x = g.input("x", &[1, 16]);
    let x = qdq_typed(&mut g, &x, 0.05, -3, true);
    let w = dq_weights(&mut g, "fc", &[16, 4], 1, 4);
    let y = g.node("MatMul", &[&x, &w], vec![]);
    let y = qdq_typed(&mut g, &y, 0.02, 10, true);
    g.output(&y, &[1, 4]);
    let bytes = g.to_bytes();
    let c = compile_bytes(&bytes, &CompileOptions::default()).expect("compile");
    assert_eq!(op_names(&c), ["Quantize", "DenseI8", "Dequantize"]);
    let (_dir, path) = temp_model("u8.onnx", &bytes);
    let x = Tensor::f32(vec![1, 16], noise(5, 16, 3.0));
    let ours = Runner::new(&c.artifact)
        .unwrap()
        .run(std::slice::from_ref(&x))
        .unwrap()[0]
        .to_f32();
    let reference = whittle::reference::run_tract(&path, &[x]).expect("tract")[0].to_f32();
    for (a, b) in ours.iter().zip(&reference) {
        assert!((a - b).abs() <= 0.02 * 1.01, "{ours:?} vs {reference:?}");
    }
}

#[test]
fn qdq_fixture_runs_on_integer_operators_close_to_its_float_simulation() {
    let bytes = qdq_fixture();
    let c = compile_bytes(&bytes, &CompileOptions::default()).expect("compile");
    let ops = op_names(&c);
    // One transpose: the NCHW input to channels-last, once, shared by the conv and the residual.
    assert_eq!(
        ops,
        [
            "Quantize",
            "Transpose",
            "Conv2dI8",
            "AddI8",
            "AvgPool2dI8",
            "DenseI8",
            "Dequantize"
        ],
        "{ops:?}"
    );
    let (_dir, path) = temp_model("qdq.onnx", &bytes);
    let mut runner = Runner::new(&c.artifact).expect("load");
    for seed in 0..20 {
        let x = Tensor::f32(vec![1, 4, 8, 8], noise(seed, 256, 2.0));
        let ours = runner.run(std::slice::from_ref(&x)).expect("run")[0].to_f32();
        let reference = whittle::reference::run_tract(&path, &[x]).expect("tract")[0].to_f32();
        for (a, b) in ours.iter().zip(&reference) {
            // Integer arithmetic vs float simulation: at most one output step (0.005) apart.
            assert!(
                (a - b).abs() <= 0.005 * 1.01,
                "seed {seed}: {ours:?} vs {reference:?}"
            );
        }
    }
}

/// One-operator models, quantized after training on random data, against float.
fn single_op(
    op: &str,
    attrs: Vec<(&str, Attr)>,
    input: &[i64],
    constant: Option<Tensor>,
) -> Vec<u8> {
    let mut g = GraphBuilder::new(op, 13);
    let x = g.input("x", input);
    let mut inputs = vec![x];
    if let Some(t) = constant {
        inputs.push(g.constant("c", &t));
    }
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let y = g.node(op, &refs, attrs);
    g.output(&y, &[]);
    g.to_bytes()
}

#[test]
fn every_int8_operator_stays_within_a_few_steps_of_float() {
    let conv_w = Tensor::f32(vec![6, 3, 3, 3], noise(5, 162, 0.5));
    let dw_w = Tensor::f32(vec![3, 1, 3, 3], noise(6, 27, 0.5));
    let fc_w = Tensor::f32(vec![48, 5], noise(7, 240, 0.3));
    let cases: Vec<(&str, Vec<u8>, Vec<i64>)> = vec![
        (
            "conv",
            single_op(
                "Conv",
                vec![("pads", Attr::Ints(vec![1, 1, 1, 1]))],
                &[1, 3, 4, 4],
                Some(conv_w),
            ),
            vec![1, 3, 4, 4],
        ),
        (
            "depthwise",
            single_op(
                "Conv",
                vec![("group", Attr::Int(3)), ("strides", Attr::Ints(vec![2, 2]))],
                &[1, 3, 5, 5],
                Some(dw_w),
            ),
            vec![1, 3, 5, 5],
        ),
        (
            "matmul",
            single_op("MatMul", vec![], &[1, 48], Some(fc_w)),
            vec![1, 48],
        ),
        (
            "add",
            single_op(
                "Add",
                vec![],
                &[1, 3, 4, 4],
                Some(Tensor::f32(vec![3, 1, 1], vec![0.5, -1.0, 0.25])),
            ),
            vec![1, 3, 4, 4],
        ),
        (
            "mul",
            single_op(
                "Mul",
                vec![],
                &[1, 3, 4, 4],
                Some(Tensor::f32(vec![1], vec![-1.5])),
            ),
            vec![1, 3, 4, 4],
        ),
        (
            "avgpool",
            single_op(
                "AveragePool",
                vec![
                    ("kernel_shape", Attr::Ints(vec![3, 3])),
                    ("pads", Attr::Ints(vec![1, 1, 1, 1])),
                    ("count_include_pad", Attr::Int(1)),
                ],
                &[1, 3, 4, 4],
                None,
            ),
            vec![1, 3, 4, 4],
        ),
        (
            "maxpool",
            single_op(
                "MaxPool",
                vec![
                    ("kernel_shape", Attr::Ints(vec![2, 2])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
                &[1, 3, 4, 4],
                None,
            ),
            vec![1, 3, 4, 4],
        ),
        (
            "gap",
            single_op("GlobalAveragePool", vec![], &[1, 3, 4, 4], None),
            vec![1, 3, 4, 4],
        ),
        (
            "sigmoid",
            single_op("Sigmoid", vec![], &[1, 16], None),
            vec![1, 16],
        ),
        (
            "tanh",
            single_op("Tanh", vec![], &[1, 16], None),
            vec![1, 16],
        ),
        (
            "hardswish",
            single_op("HardSwish", vec![], &[1, 16], None),
            vec![1, 16],
        ),
        (
            "pad",
            single_op(
                "Pad",
                vec![],
                &[1, 3, 4, 4],
                Some(Tensor::i64_vec(vec![0, 0, 1, 2, 0, 0, 1, 0])),
            ),
            vec![1, 3, 4, 4],
        ),
        (
            "softmax",
            single_op("Softmax", vec![("axis", Attr::Int(-1))], &[1, 10], None),
            vec![1, 10],
        ),
    ];
    for (name, bytes, shape) in cases {
        let n: usize = shape.iter().product::<i64>() as usize;
        let mut calib_shape: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
        calib_shape[0] = 64;
        let calibration = Tensor::f32(calib_shape, noise(11, 64 * n, 3.0));
        let float = compile_bytes(&bytes, &CompileOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let opts = CompileOptions {
            quantize: Some(ptq(calibration)),
            ..Default::default()
        };
        let int8 = compile_bytes(&bytes, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            int8.float_nodes.is_empty(),
            "{name}: {:?}",
            int8.float_nodes
        );
        let ops = op_names(&int8);
        let boundary = ["Quantize", "Dequantize", "Transpose", "Pad", "Copy"];
        assert!(
            ops.iter()
                .all(|o| o.ends_with("I8") || boundary.contains(o)),
            "{name}: {ops:?}"
        );
        let x = Tensor::f32(
            shape.iter().map(|&d| d as usize).collect(),
            noise(99, n, 3.0),
        );
        let f = Runner::new(&float.artifact)
            .unwrap()
            .run(std::slice::from_ref(&x))
            .unwrap()[0]
            .to_f32();
        let q = Runner::new(&int8.artifact).unwrap().run(&[x]).unwrap()[0].to_f32();
        // Quantization error: a few steps of the output's range (range / 255 per step).
        let range = f.iter().fold(0f32, |m, v| m.max(v.abs())) * 2.0;
        let worst = f
            .iter()
            .zip(&q)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 4.0 * range / 255.0 + 1e-3,
            "{name}: max error {worst} for range {range}"
        );
    }
}

#[test]
fn example_model_keeps_its_accuracy_in_int8() {
    let dir = workspace_root().join("examples/gesture");
    let train = whittle::data::read_npz(&dir.join("data/train.npz")).expect("train");
    let test = whittle::data::read_npz(&dir.join("data/test.npz")).expect("test");
    let get = |arrays: &[(String, Tensor)], key: &str| {
        arrays
            .iter()
            .find(|(n, _)| n == key)
            .map(|(_, t)| t.clone())
            .expect(key)
    };
    let path = dir.join("gesture.onnx");
    let float = whittle::compile_path(&path, &CompileOptions::default()).expect("float");
    let opts = CompileOptions {
        quantize: Some(ptq(get(&train, "x").cast(ElemType::F32))),
        ..Default::default()
    };
    let int8 = whittle::compile_path(&path, &opts).expect("int8");
    let (x, y) = (
        get(&test, "x").cast(ElemType::F32),
        get(&test, "y").to_i64(),
    );
    let top1 = |artifact: &[u8]| {
        let scores = Runner::new(artifact)
            .unwrap()
            .run(std::slice::from_ref(&x))
            .unwrap()[0]
            .to_f32();
        whittle::metrics::accuracy(&scores, 5, &y).unwrap().top1
    };
    let (f, q) = (top1(&float.artifact), top1(&int8.artifact));
    println!(
        "gesture top-1: float {:.2}%, int8 {:.2}%",
        100.0 * f,
        100.0 * q
    );
    assert!(f - q <= 0.005, "int8 loses {:.2} points", 100.0 * (f - q));
    assert!(
        int8.artifact.len() * 2 < float.artifact.len(),
        "int8 artifact is not smaller"
    );
}

#[test]
fn require_integer_names_the_float_operators() {
    // After post-training quantization: LogSoftmax has no int8 kernel.
    let bytes = single_op("LogSoftmax", vec![("axis", Attr::Int(-1))], &[1, 10], None);
    let calibration = Tensor::f32(vec![16, 10], noise(3, 160, 2.0));
    let quantized = CompileOptions {
        quantize: Some(ptq(calibration)),
        ..Default::default()
    };
    let lenient = compile_bytes(&bytes, &quantized).expect("float fallback");
    assert_eq!(lenient.float_nodes.len(), 1);
    let strict = CompileOptions {
        require_integer: true,
        ..quantized
    };
    let err = compile_bytes(&bytes, &strict).unwrap_err().to_string();
    assert!(
        err.contains("logsoftmax_0") && err.contains("float32"),
        "{err}"
    );

    // In a pre-quantized model: a Div between DequantizeLinear and QuantizeLinear.
    let mut g = GraphBuilder::new("qdq_div", 13);
    let x = g.input("x", &[1, 8]);
    let x = qdq(&mut g, &x, 0.05, 0);
    let two = g.constant("two", &Tensor::f32(vec![], vec![2.0]));
    let y = g.node("Div", &[&x, &two], vec![]);
    let y = qdq(&mut g, &y, 0.05, 0);
    g.output(&y, &[1, 8]);
    let bytes = g.to_bytes();
    let lenient = compile_bytes(&bytes, &CompileOptions::default()).expect("float fallback");
    assert_eq!(
        lenient
            .float_nodes
            .iter()
            .map(|u| u.op_type.as_str())
            .collect::<Vec<_>>(),
        ["Div"]
    );
    let err = compile_bytes(
        &bytes,
        &CompileOptions {
            require_integer: true,
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("div_"), "{err}");
}

#[test]
fn int8_io_takes_and_gives_int8_tensors() {
    let dir = workspace_root().join("examples/gesture");
    let train = whittle::data::read_npz(&dir.join("data/train.npz")).expect("train");
    let x = train
        .iter()
        .find(|(n, _)| n == "x")
        .map(|(_, t)| t.cast(ElemType::F32))
        .expect("x");
    let opts = CompileOptions {
        quantize: Some(QuantizeOptions {
            int8_io: true,
            keep_float: Vec::new(),
            calibrated: None,
            ..ptq(x)
        }),
        ..Default::default()
    };
    let c = whittle::compile_path(&dir.join("gesture.onnx"), &opts).expect("compile");
    let summary = whittle::inspect::Summary::of(&c.artifact).expect("inspect");
    assert_eq!(
        (
            summary.inputs[0].dtype.as_str(),
            summary.outputs[0].dtype.as_str()
        ),
        ("i8", "i8")
    );
    assert_eq!(summary.inputs[0].name, "accel");
    assert!(summary.inputs[0].scale.is_some() && summary.outputs[0].zero_point == Some(-128));
    let sample = npy(&dir.join("sample.npy"));
    let out = Runner::new(&c.artifact).unwrap().run(&[sample]).unwrap();
    assert_eq!(out[0].dtype, ElemType::I8);
}
