//! ONNX export of the trained model with whittle's graph builder.

use super::model::{BatchNorm, Conv, Net};
use super::{AXES, BN_EPS, CLASSES, STEPS};
use anyhow::Result;
use candle_core::Tensor;
use prost::Message;
use whittle::onnx::build::{Attr, GraphBuilder};
use whittle::tensor::Tensor as WTensor;

// ---------------------------------------------------------------------------------------------
// ONNX export: the same graph, batch-norm kept as separate nodes.

pub fn values(t: &Tensor) -> Result<WTensor> {
    Ok(WTensor::f32(t.dims().to_vec(), t.flatten_all()?.to_vec1()?))
}

pub fn export(net: &Net) -> Result<Vec<u8>> {
    let mut g = GraphBuilder::new("gesture", 13);
    let input = g.input("accel", &[-1, AXES as i64, STEPS as i64]);
    let conv_bn_relu = |g: &mut GraphBuilder, x: &str, name: &str, c: &Conv, bn: &BatchNorm| {
        let w = g.constant(&format!("{name}.weight"), &values(&c.w)?);
        let b = g.constant(&format!("{name}.bias"), &values(&c.b)?);
        let attrs = vec![
            ("kernel_shape", Attr::Ints(vec![c.w.dim(2)? as i64])),
            ("pads", Attr::Ints(vec![c.pad as i64; 2])),
            ("strides", Attr::Ints(vec![1])),
            ("group", Attr::Int(c.group as i64)),
        ];
        let y = g.node("Conv", &[x, &w, &b], attrs);
        let bn_name = format!("{name}.bn");
        let stats = [
            ("weight", bn.gamma.as_tensor()),
            ("bias", bn.beta.as_tensor()),
            ("running_mean", &bn.mean),
            ("running_var", &bn.var),
        ];
        let mut inputs = vec![y];
        for (suffix, t) in stats {
            inputs.push(g.constant(&format!("{bn_name}.{suffix}"), &values(t)?));
        }
        let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let eps = ("epsilon", Attr::Float(BN_EPS as f32));
        let y = g.node("BatchNormalization", &refs, vec![eps]);
        anyhow::Ok(g.node("Relu", &[&y], vec![]))
    };
    let pool = |g: &mut GraphBuilder, x: &str| {
        let attrs = vec![
            ("kernel_shape", Attr::Ints(vec![2])),
            ("strides", Attr::Ints(vec![2])),
        ];
        g.node("MaxPool", &[x], attrs)
    };
    let x = conv_bn_relu(&mut g, &input, "conv1", &net.conv1, &net.bn1)?;
    let x = pool(&mut g, &x);
    let x = conv_bn_relu(&mut g, &x, "dwconv", &net.dw, &net.bn2)?;
    let x = conv_bn_relu(&mut g, &x, "pwconv", &net.pw, &net.bn3)?;
    let x = pool(&mut g, &x);
    let x = conv_bn_relu(&mut g, &x, "conv4", &net.conv4, &net.bn4)?;
    let x = g.node("GlobalAveragePool", &[&x], vec![]);
    let x = g.node("Flatten", &[&x], vec![("axis", Attr::Int(1))]);
    let w = g.constant("fc.weight", &values(&net.fc_w)?);
    let b = g.constant("fc.bias", &values(&net.fc_b)?);
    let x = g.node("Gemm", &[&x, &w, &b], vec![("transB", Attr::Int(1))]);
    g.node("Softmax", &[&x], vec![("axis", Attr::Int(1))]);
    g.output("probs", &[-1, CLASSES.len() as i64]);
    let mut model = g.build();
    // The builder names outputs after their node; the graph output is `probs`.
    let graph = model.graph.as_mut().expect("built graph");
    graph.node.last_mut().expect("softmax node").output[0] = "probs".into();
    Ok(model.encode_to_vec())
}
