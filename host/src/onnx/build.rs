//! Writing ONNX models: the example models, test fixtures and exports are built with this.

use super::pb;
use crate::tensor::{ElemType, Tensor, TensorData};
use prost::Message;

/// An attribute value.
#[derive(Debug, Clone)]
pub enum Attr {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f32),
    /// Integer list.
    Ints(Vec<i64>),
    /// Float list.
    Floats(Vec<f32>),
    /// String.
    Str(String),
    /// Tensor.
    Tensor(Tensor),
}

/// Encodes a host tensor as a `TensorProto` with raw little-endian data.
pub fn tensor_to_proto(name: &str, t: &Tensor) -> pb::TensorProto {
    let raw_data: Vec<u8> = match (&t.data, t.dtype) {
        (TensorData::Float(v), ElemType::F64) => {
            v.iter().flat_map(|&x| f64::from(x).to_le_bytes()).collect()
        }
        (TensorData::Float(v), _) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        (TensorData::Int(v), ElemType::I8 | ElemType::U8 | ElemType::Bool) => {
            v.iter().map(|&x| x as u8).collect()
        }
        (TensorData::Int(v), ElemType::I16 | ElemType::U16) => {
            v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect()
        }
        (TensorData::Int(v), ElemType::I32 | ElemType::U32) => {
            v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect()
        }
        (TensorData::Int(v), _) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    };
    let dtype = match (&t.data, t.dtype) {
        (TensorData::Float(_), ElemType::F64) => ElemType::F64,
        (TensorData::Float(_), _) => ElemType::F32,
        (TensorData::Int(_), d) => d,
    };
    pb::TensorProto {
        dims: t.shape.iter().map(|&d| d as i64).collect(),
        data_type: dtype.onnx_code(),
        name: name.to_string(),
        raw_data,
        ..Default::default()
    }
}

fn attribute(name: &str, value: Attr) -> pb::AttributeProto {
    use pb::attribute_proto::AttributeType as T;
    let mut a = pb::AttributeProto {
        name: name.to_string(),
        ..Default::default()
    };
    match value {
        Attr::Int(i) => (a.i, a.r#type) = (i, T::Int as i32),
        Attr::Float(f) => (a.f, a.r#type) = (f, T::Float as i32),
        Attr::Ints(v) => (a.ints, a.r#type) = (v, T::Ints as i32),
        Attr::Floats(v) => (a.floats, a.r#type) = (v, T::Floats as i32),
        Attr::Str(s) => (a.s, a.r#type) = (s.into_bytes(), T::String as i32),
        Attr::Tensor(t) => (a.t, a.r#type) = (Some(tensor_to_proto("", &t)), T::Tensor as i32),
    }
    a
}

/// A `ValueInfoProto` for a tensor; negative dimensions become the symbolic batch `N`.
pub fn value_info(name: &str, dtype: ElemType, dims: &[i64]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{Dimension, dimension::Value};
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            value: Some(if d < 0 {
                Value::DimParam("N".into())
            } else {
                Value::DimValue(d)
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: dtype.onnx_code(),
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Builds an ONNX graph node by node.
pub struct GraphBuilder {
    graph: pb::GraphProto,
    opset: i64,
    next_id: usize,
    prefix: String,
}

impl GraphBuilder {
    /// An empty graph for the given opset.
    pub fn new(name: &str, opset: i64) -> Self {
        GraphBuilder {
            graph: pb::GraphProto {
                name: name.to_string(),
                ..Default::default()
            },
            opset,
            next_id: 0,
            prefix: String::new(),
        }
    }

    /// Starts every generated node and value name with `prefix`, so that they cannot collide
    /// with names taken from elsewhere (an exported model's inputs and outputs).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }

    /// Declares a float32 graph input; negative dimensions are dynamic.
    pub fn input(&mut self, name: &str, dims: &[i64]) -> String {
        self.typed_input(name, ElemType::F32, dims)
    }

    /// Declares a graph input of any element type.
    pub fn typed_input(&mut self, name: &str, dtype: ElemType, dims: &[i64]) -> String {
        self.graph.input.push(value_info(name, dtype, dims));
        name.to_string()
    }

    /// Adds a constant initializer and returns its name.
    pub fn constant(&mut self, name: &str, tensor: &Tensor) -> String {
        self.graph.initializer.push(tensor_to_proto(name, tensor));
        name.to_string()
    }

    /// Adds a node with one output; `""` in `inputs` marks an omitted optional input.
    pub fn node(&mut self, op_type: &str, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        self.node_n(op_type, inputs, 1, attrs).remove(0)
    }

    /// Adds a node with `outputs` outputs and returns their names.
    pub fn node_n(
        &mut self,
        op_type: &str,
        inputs: &[&str],
        outputs: usize,
        attrs: Vec<(&str, Attr)>,
    ) -> Vec<String> {
        let id = self.next_id;
        self.next_id += 1;
        let name = format!("{}{}_{id}", self.prefix, op_type.to_lowercase());
        let output: Vec<String> = (0..outputs)
            .map(|i| {
                if outputs == 1 {
                    name.clone()
                } else {
                    format!("{name}:{i}")
                }
            })
            .collect();
        self.graph.node.push(pb::NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: output.clone(),
            name,
            op_type: op_type.to_string(),
            attribute: attrs.into_iter().map(|(n, v)| attribute(n, v)).collect(),
            ..Default::default()
        });
        output
    }

    /// Declares `name` a float32 graph output with the given dimensions.
    pub fn output(&mut self, name: &str, dims: &[i64]) {
        self.typed_output(name, ElemType::F32, dims);
    }

    /// Declares `name` a graph output of any element type.
    pub fn typed_output(&mut self, name: &str, dtype: ElemType, dims: &[i64]) {
        self.graph.output.push(value_info(name, dtype, dims));
    }

    /// Adds an `Identity` node whose output is called `name` (a graph output keeps the name
    /// of the value it stands for).
    pub fn identity_as(&mut self, input: &str, name: &str) {
        let id = self.next_id;
        self.next_id += 1;
        self.graph.node.push(pb::NodeProto {
            input: vec![input.to_string()],
            output: vec![name.to_string()],
            name: format!("{}identity_{id}", self.prefix),
            op_type: "Identity".into(),
            ..Default::default()
        });
    }

    /// The finished model.
    pub fn build(self) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 8,
            producer_name: "whittle".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: self.opset,
            }],
            graph: Some(self.graph),
            ..Default::default()
        }
    }

    /// The finished model, serialized.
    pub fn to_bytes(self) -> Vec<u8> {
        self.build().encode_to_vec()
    }
}
