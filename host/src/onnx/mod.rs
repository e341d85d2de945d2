//! ONNX protobuf: reading models and tensors (types from tract-onnx), attribute access, and a
//! small builder for writing models.

pub mod attrs;
pub mod build;
pub mod read;

pub use tract_onnx::pb;
