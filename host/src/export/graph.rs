//! The exporter's view of an artifact: which ONNX value each arena buffer holds as the
//! operators run, the weight blob, and helpers to add constants, reshapes and quantization
//! pairs to the graph being built.

use super::ExportError;
use crate::onnx::build::{Attr, GraphBuilder};
use crate::tensor::{ElemType, Tensor};
use whittle_runtime::DType;
use whittle_runtime::format::{Buf, Space, TensorDesc, TensorQuant, WeightLayout};

/// Prefix of every name the exporter makes up, so none collides with the artifact's own.
pub const PREFIX: &str = "wtl/";

/// An ONNX value and what it holds.
#[derive(Debug, Clone)]
pub struct Value {
    /// Name in the ONNX graph.
    pub name: String,
    /// Dimensions (the artifact's physical ones).
    pub dims: Vec<i64>,
    /// Element type.
    pub dtype: DType,
    /// Scale and zero point of int8 data.
    pub quant: Option<TensorQuant>,
    /// Written in part so far by strided copies (a concatenation being assembled).
    pub partial: bool,
}

/// ONNX element type of a runtime element type.
pub fn elem_type(dtype: DType) -> Option<ElemType> {
    match dtype {
        DType::F32 => Some(ElemType::F32),
        DType::I8 => Some(ElemType::I8),
        DType::I16 => Some(ElemType::I16),
        DType::I32 => Some(ElemType::I32),
        _ => None,
    }
}

/// Dimensions as ONNX wants them.
pub fn dims_of(desc: &TensorDesc<'_>) -> Vec<i64> {
    desc.shape.dims().iter().map(|&d| i64::from(d)).collect()
}

/// The graph under construction and the state of the arena at the current operator.
pub struct Exporter<'a> {
    /// The ONNX graph.
    pub b: GraphBuilder,
    tensors: Vec<TensorDesc<'a>>,
    weights: &'a [u8],
    /// Arena buffers and the value each holds, in the order they were written.
    arena: Vec<(Buf, Value)>,
    consts: usize,
    /// Index of the operator being exported (for errors and constant names).
    pub index: usize,
    /// Its kind, as `inspect` names it.
    pub op: &'static str,
    /// The artifact's weight layout.
    pub layout: WeightLayout,
}

impl<'a> Exporter<'a> {
    /// A new exporter over an artifact's tensor table and weight blob.
    pub fn new(b: GraphBuilder, tensors: Vec<TensorDesc<'a>>, weights: &'a [u8]) -> Self {
        Exporter {
            b,
            tensors,
            weights,
            arena: Vec::new(),
            consts: 0,
            index: 0,
            op: "",
            layout: WeightLayout::Reference,
        }
    }

    /// An [`ExportError::Unsupported`] about the current operator.
    pub fn fail(&self, reason: impl Into<String>) -> ExportError {
        ExportError::Unsupported {
            index: self.index,
            op: self.op,
            reason: reason.into(),
        }
    }

    /// Tensor-table entry `index`.
    pub fn tensor(&self, index: u32) -> Result<TensorDesc<'a>, ExportError> {
        self.tensors
            .get(index as usize)
            .copied()
            .ok_or_else(|| self.fail(format!("names tensor {index}, past the tensor table")))
    }

    /// The value arena buffer `buf` holds now.
    pub fn read(&self, buf: Buf) -> Result<Value, ExportError> {
        let unknown = || ExportError::UnknownOperand {
            index: self.index,
            op: self.op,
            offset: buf.offset,
            end: buf.end(),
        };
        if buf.space != Space::Arena {
            return Err(unknown());
        }
        self.arena
            .iter()
            .rev()
            .find(|(b, _)| *b == buf)
            .map(|(_, v)| v.clone())
            .ok_or_else(unknown)
    }

    /// Records that `buf` now holds `value`; whatever overlapped it is gone.
    pub fn write(&mut self, buf: Buf, value: Value) {
        self.arena.retain(|(b, _)| !b.overlaps(&buf));
        self.arena.push((buf, value));
    }

    /// Records `name` (of dimensions `dims`) as the current operator's result: reshaped to
    /// the output tensor's dimensions and written to `buf`.
    pub fn define(
        &mut self,
        tensor: u32,
        buf: Buf,
        name: &str,
        dims: &[i64],
        dtype: DType,
    ) -> Result<(), ExportError> {
        let desc = self.tensor(tensor)?;
        let value = Value {
            name: name.to_string(),
            dims: dims.to_vec(),
            dtype,
            quant: desc.quant,
            partial: false,
        };
        let name = self.shaped(&value, &dims_of(&desc))?;
        self.write(
            buf,
            Value {
                name,
                dims: dims_of(&desc),
                ..value
            },
        );
        Ok(())
    }

    /// `value` viewed with dimensions `dims` (a `Reshape` when they differ).
    pub fn shaped(&mut self, value: &Value, dims: &[i64]) -> Result<String, ExportError> {
        if value.dims == dims {
            return Ok(value.name.clone());
        }
        if value.dims.iter().product::<i64>() != dims.iter().product::<i64>() {
            return Err(ExportError::Shape {
                index: self.index,
                op: self.op,
                from: value.dims.clone(),
                to: dims.to_vec(),
            });
        }
        let shape = self.i64s(dims);
        Ok(self.b.node("Reshape", &[&value.name, &shape], vec![]))
    }

    /// The arena value of `buf`, viewed with `dims`.
    pub fn operand(&mut self, buf: Buf, dims: &[i64]) -> Result<(String, Value), ExportError> {
        let v = self.read(buf)?;
        Ok((self.shaped(&v, dims)?, v))
    }

    /// Adds a constant initializer.
    pub fn konst(&mut self, what: &str, t: &Tensor) -> String {
        self.consts += 1;
        let name = format!("{PREFIX}op{}.{what}.{}", self.index, self.consts);
        self.b.constant(&name, t)
    }

    /// A 1-D int64 constant.
    pub fn i64s(&mut self, v: &[i64]) -> String {
        self.konst("shape", &Tensor::i64_vec(v.to_vec()))
    }

    /// A scalar float32 constant.
    pub fn scalar_f32(&mut self, what: &str, v: f32) -> String {
        self.konst(what, &Tensor::f32(vec![], vec![v]))
    }

    /// `Transpose` of a 4-D `input` by `perm` (between the artifact's NHWC and ONNX's NCHW).
    pub fn transpose4(&mut self, input: &str, perm: [i64; 4]) -> String {
        self.b.node(
            "Transpose",
            &[input],
            vec![("perm", Attr::Ints(perm.to_vec()))],
        )
    }

    /// `DequantizeLinear` of int8 `input` with a per-tensor scale and zero point.
    pub fn dq(&mut self, input: &str, q: TensorQuant) -> String {
        let (s, z) = self.qparams(q);
        self.b.node("DequantizeLinear", &[input, &s, &z], vec![])
    }

    /// `QuantizeLinear` of float `input` to int8 with a per-tensor scale and zero point.
    pub fn q(&mut self, input: &str, q: TensorQuant) -> String {
        let (s, z) = self.qparams(q);
        self.b.node("QuantizeLinear", &[input, &s, &z], vec![])
    }

    fn qparams(&mut self, q: TensorQuant) -> (String, String) {
        let s = self.scalar_f32("scale", q.scale);
        let z = self.konst(
            "zero_point",
            &Tensor::int(ElemType::I8, vec![], vec![i64::from(q.zero_point)]),
        );
        (s, z)
    }

    /// Quantization of an int8 operand, which every integer operator needs.
    pub fn quant_of(&self, v: &Value) -> Result<TensorQuant, ExportError> {
        match (v.dtype, v.quant) {
            (DType::I8, Some(q)) => Ok(q),
            _ => Err(self.fail(format!(
                "operand '{}' is not int8 with a known scale and zero point",
                v.name
            ))),
        }
    }

    /// Quantization of the current operator's output tensor.
    pub fn out_quant(&self, tensor: u32) -> Result<TensorQuant, ExportError> {
        self.tensor(tensor)?
            .quant
            .ok_or_else(|| self.fail("its output tensor has no scale and zero point"))
    }

    /// The bytes of a weight buffer.
    pub fn blob(&self, buf: Buf) -> Result<&'a [u8], ExportError> {
        let start = buf.offset as usize;
        match buf.space {
            Space::Weights => self
                .weights
                .get(start..start + buf.bytes as usize)
                .ok_or_else(|| self.fail("a weight buffer lies past the weight blob")),
            Space::Arena => Err(self.fail("expects a constant, finds an arena buffer")),
        }
    }

    /// A weight buffer as little-endian 4-byte words.
    pub fn words(&self, buf: Buf) -> Result<Vec<[u8; 4]>, ExportError> {
        let bytes = self.blob(buf)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect())
    }

    /// The float32 weights of a convolution or fully connected layer, `[channels][per_channel]`
    /// whatever the artifact's layout (packed weights are unpacked).
    pub fn layer_weights(
        &self,
        buf: Buf,
        channels: u32,
        per_channel: usize,
    ) -> Result<Vec<f32>, ExportError> {
        let raw = self.f32s(buf)?;
        if !self.layout.packs(buf) {
            return Ok(raw);
        }
        crate::pack::unblocked(&raw, channels as usize, per_channel)
            .ok_or_else(|| self.fail("its packed weights do not fit its shape"))
    }

    /// The int8 weights of a convolution in the reference layout, whatever the artifact's
    /// (widened weights are narrowed back).
    pub fn conv_i8_weights(
        &self,
        g: &whittle_runtime::format::ConvGeometry,
        buf: Buf,
    ) -> Result<Vec<i8>, ExportError> {
        if !self.layout.widens(g, buf) {
            return self.i8s(buf);
        }
        let words: Vec<u32> = self
            .words(buf)?
            .into_iter()
            .map(u32::from_le_bytes)
            .collect();
        let len = [g.kernel_h, g.kernel_w, g.in_c]
            .iter()
            .try_fold(g.out_c as usize, |n, &d| n.checked_mul(d as usize))
            .ok_or_else(|| self.fail("its widened weights do not fit its shape"))?;
        let mut weights = vec![0i8; len];
        whittle_runtime::kernels::conv::unpack_widened(g, &words, &mut weights)
            .map_err(|_| self.fail("its widened weights do not fit its shape"))?;
        Ok(weights)
    }

    /// A weight buffer as float32 values.
    pub fn f32s(&self, buf: Buf) -> Result<Vec<f32>, ExportError> {
        Ok(self
            .words(buf)?
            .into_iter()
            .map(f32::from_le_bytes)
            .collect())
    }

    /// A weight buffer as int32 values.
    pub fn i32s(&self, buf: Buf) -> Result<Vec<i32>, ExportError> {
        Ok(self
            .words(buf)?
            .into_iter()
            .map(i32::from_le_bytes)
            .collect())
    }

    /// A weight buffer as int8 values.
    pub fn i8s(&self, buf: Buf) -> Result<Vec<i8>, ExportError> {
        Ok(self.blob(buf)?.iter().map(|&b| b as i8).collect())
    }

    /// The tensor-table entry whose buffer is `buf` (constants the compiler named).
    pub fn named_constant(&self, buf: Buf) -> Option<TensorDesc<'a>> {
        self.tensors.iter().find(|t| t.buf == buf).copied()
    }

    /// An operand that is either an arena value or a float32 constant of `dims`.
    pub fn f32_operand(&mut self, buf: Buf, dims: &[i64]) -> Result<String, ExportError> {
        if buf.space == Space::Arena {
            return Ok(self.operand(buf, dims)?.0);
        }
        let data = self.f32s(buf)?;
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        if shape.iter().product::<usize>() != data.len() {
            return Err(self.fail(format!(
                "a constant of {} values is read as {dims:?}",
                data.len()
            )));
        }
        Ok(self.konst("const", &Tensor::f32(shape, data)))
    }

    /// Applies a fused float activation given as clamp bounds (`None`: unbounded).
    pub fn clamp(&mut self, x: &str, lo: Option<f32>, hi: Option<f32>) -> String {
        match (lo, hi) {
            (None, None) => x.to_string(),
            (Some(0.0), None) => self.b.node("Relu", &[x], vec![]),
            _ => {
                let lo = lo.map_or(String::new(), |l| self.scalar_f32("min", l));
                let hi = hi.map_or(String::new(), |h| self.scalar_f32("max", h));
                self.b.node("Clip", &[x, &lo, &hi], vec![])
            }
        }
    }

    /// Overrides the scale and zero point recorded for the value in `buf`.
    pub fn set_quant(&mut self, buf: Buf, quant: Option<TensorQuant>) {
        if let Some((_, v)) = self.arena.iter_mut().rev().find(|(b, _)| *b == buf) {
            v.quant = quant;
        }
    }

    /// Gives the value in `buf` the input's scale and zero point when its tensor has none
    /// (data movement keeps them).
    pub fn inherit_quant(&mut self, buf: Buf, quant: Option<TensorQuant>) {
        if let Some((_, v)) = self.arena.iter_mut().rev().find(|(b, _)| *b == buf) {
            v.quant = v.quant.or(quant);
        }
    }

    /// The values of the model outputs' buffers after the last operator.
    pub fn take_arena(&self, buf: Buf) -> Option<Value> {
        self.arena
            .iter()
            .rev()
            .find(|(b, _)| *b == buf)
            .map(|(_, v)| v.clone())
    }
}
