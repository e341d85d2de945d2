//! `Gemm` and `MatMul` with constant weights become [`Op::Linear`]; a following constant
//! bias `Add` merges into it. `Gemm` with a non-constant `B` is decomposed into Transpose,
//! MatMul, Mul and Add nodes.

use super::redirect;
use crate::ir::{GemmAttrs, Graph, Node, NodeFate, Op, Value, ValueId};
use crate::tensor::Tensor;
use whittle_runtime::format::{Activation, BinaryKind};

fn intermediate(g: &mut Graph, name: String, shape: Vec<usize>) -> ValueId {
    g.add_value(Value {
        name,
        dtype: crate::tensor::ElemType::F32,
        shape: Some(shape),
        konst: None,
        quant: None,
    })
}

fn node(name: String, op_type: &str, op: Op, inputs: Vec<ValueId>, output: ValueId) -> Node {
    Node {
        name,
        op_type: op_type.to_string(),
        op,
        inputs: inputs.into_iter().map(Some).collect(),
        outputs: vec![output],
    }
}

/// Rewrites every `Gemm` and every `MatMul` with a constant 2-D right operand.
pub fn form(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        let replacement = match &g.nodes[i].op {
            Op::Gemm(attrs) => Some(gemm(g, i, attrs.clone())),
            Op::MatMul => matmul(g, i),
            _ => None,
        };
        match replacement {
            Some(nodes) => {
                let n = nodes.len();
                g.nodes.splice(i..=i, nodes);
                i += n;
            }
            None => i += 1,
        }
    }
}

fn matmul(g: &mut Graph, i: usize) -> Option<Vec<Node>> {
    let n = &g.nodes[i];
    let (a, b) = (n.input(0)?, n.input(1)?);
    let w = g.konst(b)?;
    if w.shape.len() != 2 || g.shape(a).is_empty() {
        return None;
    }
    Some(vec![Node {
        op: Op::Linear {
            act: Activation::None,
        },
        inputs: vec![Some(a), Some(b)],
        ..n.clone()
    }])
}

fn gemm(g: &mut Graph, i: usize, attrs: GemmAttrs) -> Vec<Node> {
    let n = g.nodes[i].clone();
    let (mut a, b, c) = (
        n.inputs[0].expect("checked"),
        n.inputs[1].expect("checked"),
        n.input(2),
    );
    let out = n.outputs[0];
    let out_shape = g.shape(out).to_vec();
    let mut nodes = Vec::new();
    if attrs.trans_a {
        let shape = g.shape(a).iter().rev().copied().collect();
        let t = intermediate(g, format!("{}.a_t", n.name), shape);
        nodes.push(node(
            format!("{}.transpose_a", n.name),
            &n.op_type,
            Op::Transpose {
                perm: Some(vec![1, 0]),
            },
            vec![a],
            t,
        ));
        a = t;
    }
    let c_const = c.and_then(|c| g.konst(c)).map(|t| {
        t.to_f32()
            .iter()
            .map(|v| v * attrs.beta)
            .collect::<Vec<_>>()
    });
    let c_shape = c.map(|c| g.shape(c).to_vec());
    let n_cols = out_shape[1];
    let bias_like = c_shape
        .as_ref()
        .is_some_and(|s| s.iter().product::<usize>() == n_cols && s.last() == Some(&n_cols));

    let product = if let Some(w) = g.konst(b).cloned() {
        let mut w = if attrs.trans_b {
            w.transposed(&[1, 0])
        } else {
            w
        };
        if attrs.alpha != 1.0 {
            w = Tensor::f32(
                w.shape.clone(),
                w.to_f32().iter().map(|v| v * attrs.alpha).collect(),
            );
        }
        let w_id = g.add_constant(format!("{}.weights", n.name), w);
        let mut inputs = vec![Some(a), Some(w_id)];
        if let (Some(bias), true) = (&c_const, bias_like) {
            inputs.push(Some(g.add_constant(
                format!("{}.bias", n.name),
                Tensor::f32(vec![n_cols], bias.clone()),
            )));
        }
        let product_out = if inputs.len() == 3 || c.is_none() {
            out
        } else {
            intermediate(g, format!("{}.product", n.name), out_shape.clone())
        };
        nodes.push(Node {
            name: n.name.clone(),
            op_type: n.op_type.clone(),
            op: Op::Linear {
                act: Activation::None,
            },
            inputs,
            outputs: vec![product_out],
        });
        if product_out == out {
            return nodes;
        }
        product_out
    } else {
        let mut b = b;
        if attrs.trans_b {
            let shape = g.shape(b).iter().rev().copied().collect();
            let t = intermediate(g, format!("{}.b_t", n.name), shape);
            nodes.push(node(
                format!("{}.transpose_b", n.name),
                &n.op_type,
                Op::Transpose {
                    perm: Some(vec![1, 0]),
                },
                vec![b],
                t,
            ));
            b = t;
        }
        let mut last = intermediate(g, format!("{}.product", n.name), out_shape.clone());
        nodes.push(node(
            format!("{}.matmul", n.name),
            &n.op_type,
            Op::MatMul,
            vec![a, b],
            last,
        ));
        if attrs.alpha != 1.0 {
            let alpha = g.add_constant(
                format!("{}.alpha", n.name),
                Tensor::f32(vec![], vec![attrs.alpha]),
            );
            let scaled = if c.is_none() {
                out
            } else {
                intermediate(g, format!("{}.scaled", n.name), out_shape.clone())
            };
            nodes.push(node(
                format!("{}.alpha", n.name),
                &n.op_type,
                Op::Binary {
                    kind: BinaryKind::Mul,
                    act: Activation::None,
                },
                vec![last, alpha],
                scaled,
            ));
            last = scaled;
        }
        if c.is_none() {
            if last != out {
                let id = nodes.last_mut().expect("one node at least");
                id.outputs[0] = out;
            }
            return nodes;
        }
        last
    };
    // C added separately (not a per-column bias, or not constant).
    let c = c.expect("handled above");
    let c_term = match c_const {
        Some(values) => g.add_constant(
            format!("{}.c", n.name),
            Tensor::f32(c_shape.unwrap_or_default(), values),
        ),
        None if attrs.beta == 1.0 => c,
        None => {
            let beta = g.add_constant(
                format!("{}.beta", n.name),
                Tensor::f32(vec![], vec![attrs.beta]),
            );
            let scaled = intermediate(g, format!("{}.beta_c", n.name), g.shape(c).to_vec());
            nodes.push(node(
                format!("{}.beta", n.name),
                &n.op_type,
                Op::Binary {
                    kind: BinaryKind::Mul,
                    act: Activation::None,
                },
                vec![c, beta],
                scaled,
            ));
            scaled
        }
    };
    nodes.push(node(
        format!("{}.add_c", n.name),
        &n.op_type,
        Op::Binary {
            kind: BinaryKind::Add,
            act: Activation::None,
        },
        vec![product, c_term],
        out,
    ));
    nodes
}

/// Merges `Add(linear_out, const bias)` into a bias-less [`Op::Linear`].
pub fn merge_bias(g: &mut Graph) {
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some((linear, bias)) = bias_add(g, i) {
            let add = g.nodes.remove(i);
            let x = g.nodes[linear].outputs[0];
            let columns = *g.shape(x).last().unwrap_or(&0);
            let values = g.konst(bias).map(Tensor::to_f32).unwrap_or_default();
            let b = g.add_constant(
                format!("{}.bias", g.nodes[linear].name),
                Tensor::f32(vec![columns], values),
            );
            g.nodes[linear].inputs.resize(3, None);
            g.nodes[linear].inputs[2] = Some(b);
            redirect(g, add.outputs[0], x);
            g.values[x].name = g.values[add.outputs[0]].name.clone();
            let into = g.nodes[linear].name.clone();
            g.record_fate(&add, NodeFate::FusedInto(into));
        } else {
            i += 1;
        }
    }
}

/// If node `i` adds a per-column constant to the only output of a bias-less Linear, returns
/// (index of the Linear, the constant).
fn bias_add(g: &Graph, i: usize) -> Option<(usize, ValueId)> {
    let add = &g.nodes[i];
    if add.op
        != (Op::Binary {
            kind: BinaryKind::Add,
            act: Activation::None,
        })
    {
        return None;
    }
    let producers = g.producers();
    let uses = g.use_counts();
    let (x, c) = match (add.input(0)?, add.input(1)?) {
        (x, c) if g.konst(c).is_some() => (x, c),
        (c, x) if g.konst(c).is_some() => (x, c),
        _ => return None,
    };
    let p = producers[x]?;
    let linear = &g.nodes[p];
    if linear.op
        != (Op::Linear {
            act: Activation::None,
        })
        || linear.input(2).is_some()
        || uses[x] != 1
        || g.outputs.contains(&x)
    {
        return None;
    }
    let columns = *g.shape(x).last()?;
    let c_shape = g.shape(c);
    let per_column = c_shape.iter().product::<usize>() == columns
        && c_shape.last() == Some(&columns)
        && c_shape.len() <= g.shape(x).len();
    per_column.then_some((p, c))
}
