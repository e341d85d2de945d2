//! Typed access to ONNX node attributes, with errors that name the attribute.

use super::pb;
use crate::tensor::Tensor;

/// Attribute accessors for a node.
pub struct Attrs<'a> {
    node: &'a pb::NodeProto,
}

impl<'a> Attrs<'a> {
    /// Accessors over `node`'s attributes.
    pub fn new(node: &'a pb::NodeProto) -> Self {
        Attrs { node }
    }

    fn get(&self, name: &str) -> Option<&'a pb::AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == name)
    }

    /// Whether the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Names of all attributes.
    pub fn names(&self) -> impl Iterator<Item = &'a str> {
        self.node.attribute.iter().map(|a| a.name.as_str())
    }

    /// An integer attribute.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a)
                if a.r#type == pb::attribute_proto::AttributeType::Int as i32 || a.r#type == 0 =>
            {
                Ok(Some(a.i))
            }
            Some(_) => Err(format!("attribute '{name}' must be an integer")),
        }
    }

    /// A float attribute.
    pub fn float(&self, name: &str) -> Result<Option<f32>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a)
                if a.r#type == pb::attribute_proto::AttributeType::Float as i32
                    || a.r#type == 0 =>
            {
                Ok(Some(a.f))
            }
            Some(_) => Err(format!("attribute '{name}' must be a float")),
        }
    }

    /// A string attribute.
    pub fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a)
                if a.r#type == pb::attribute_proto::AttributeType::String as i32
                    || a.r#type == 0 =>
            {
                String::from_utf8(a.s.clone())
                    .map(Some)
                    .map_err(|_| format!("attribute '{name}' is not UTF-8"))
            }
            Some(_) => Err(format!("attribute '{name}' must be a string")),
        }
    }

    /// An integer list attribute.
    pub fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a)
                if a.r#type == pb::attribute_proto::AttributeType::Ints as i32 || a.r#type == 0 =>
            {
                Ok(Some(a.ints.clone()))
            }
            Some(_) => Err(format!("attribute '{name}' must be a list of integers")),
        }
    }

    /// A float list attribute.
    pub fn floats(&self, name: &str) -> Result<Option<Vec<f32>>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a)
                if a.r#type == pb::attribute_proto::AttributeType::Floats as i32
                    || a.r#type == 0 =>
            {
                Ok(Some(a.floats.clone()))
            }
            Some(_) => Err(format!("attribute '{name}' must be a list of floats")),
        }
    }

    /// A tensor attribute, decoded.
    pub fn tensor(&self, name: &str) -> Result<Option<Tensor>, String> {
        match self.get(name) {
            None => Ok(None),
            Some(a) => match &a.t {
                Some(t) => super::read::tensor_from_proto(t, None)
                    .map(Some)
                    .map_err(|e| format!("attribute '{name}': {e}")),
                None => Err(format!("attribute '{name}' must be a tensor")),
            },
        }
    }

    /// A list of non-negative integers (sizes, strides).
    pub fn usizes(&self, name: &str) -> Result<Option<Vec<usize>>, String> {
        self.ints(name)?
            .map(|v| {
                v.iter()
                    .map(|&x| {
                        usize::try_from(x)
                            .map_err(|_| format!("attribute '{name}' has negative value {x}"))
                    })
                    .collect()
            })
            .transpose()
    }
}
