//! `whittle` compiles ONNX models into compact `.wtl` artifacts for microcontrollers and edge
//! boards, and runs them on the host through the same runtime the device uses.
//!
//! The pipeline: [`compile::load_onnx`] -> [`import`] (shapes, constant folding) ->
//! [`passes`] (batch-norm folding, fusion) -> [`lower`] (runtime operators, layouts) ->
//! [`plan`] (one arena) -> [`artifact`] (the file).
#![warn(missing_docs)]

pub mod artifact;
pub mod bench;
pub mod bundle;
pub mod compare;
pub mod compile;
pub mod data;
pub mod digest;
pub mod distill;
pub mod emit;
pub mod error;
pub mod export;
pub mod image;
pub mod import;
pub mod inspect;
pub mod ir;
pub mod lower;
pub mod metrics;
pub mod onnx;
pub mod pack;
pub mod passes;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod prune;
pub mod quantize;
pub mod reference;
pub mod run;
pub mod size;
pub mod targets;
pub mod tensor;
pub mod validate;

pub use compile::{CompileOptions, Compiled, compile, compile_path};
pub use error::CompileError;
pub use tensor::{ElemType, Tensor};
