//! Host-side tensors: constants of the source model (weights, shapes) and data for runs.

use std::fmt;

/// Element type of a value in the source model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElemType {
    /// 32-bit float.
    F32,
    /// 16-bit float (constants only; converted to f32).
    F16,
    /// bfloat16 (constants only; converted to f32).
    BF16,
    /// 64-bit float (constants only; converted to f32).
    F64,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 16-bit integer.
    U16,
    /// Signed 32-bit integer.
    I32,
    /// Unsigned 32-bit integer.
    U32,
    /// Signed 64-bit integer.
    I64,
    /// Unsigned 64-bit integer.
    U64,
    /// Boolean.
    Bool,
    /// Strings, complex numbers, 8- and 4-bit floats: never supported.
    Other(i32),
}

impl ElemType {
    /// From the ONNX `TensorProto.DataType` number.
    pub fn from_onnx(code: i32) -> Self {
        match code {
            1 => ElemType::F32,
            2 => ElemType::U8,
            3 => ElemType::I8,
            4 => ElemType::U16,
            5 => ElemType::I16,
            6 => ElemType::I32,
            7 => ElemType::I64,
            9 => ElemType::Bool,
            10 => ElemType::F16,
            11 => ElemType::F64,
            12 => ElemType::U32,
            13 => ElemType::U64,
            16 => ElemType::BF16,
            other => ElemType::Other(other),
        }
    }

    /// The ONNX `TensorProto.DataType` number.
    pub fn onnx_code(self) -> i32 {
        match self {
            ElemType::F32 => 1,
            ElemType::U8 => 2,
            ElemType::I8 => 3,
            ElemType::U16 => 4,
            ElemType::I16 => 5,
            ElemType::I32 => 6,
            ElemType::I64 => 7,
            ElemType::Bool => 9,
            ElemType::F16 => 10,
            ElemType::F64 => 11,
            ElemType::U32 => 12,
            ElemType::U64 => 13,
            ElemType::BF16 => 16,
            ElemType::Other(code) => code,
        }
    }

    /// Whether values of this type are held as floats.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            ElemType::F32 | ElemType::F16 | ElemType::BF16 | ElemType::F64
        )
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElemType::F32 => f.write_str("float32"),
            ElemType::F16 => f.write_str("float16"),
            ElemType::BF16 => f.write_str("bfloat16"),
            ElemType::F64 => f.write_str("float64"),
            ElemType::I8 => f.write_str("int8"),
            ElemType::U8 => f.write_str("uint8"),
            ElemType::I16 => f.write_str("int16"),
            ElemType::U16 => f.write_str("uint16"),
            ElemType::I32 => f.write_str("int32"),
            ElemType::U32 => f.write_str("uint32"),
            ElemType::I64 => f.write_str("int64"),
            ElemType::U64 => f.write_str("uint64"),
            ElemType::Bool => f.write_str("bool"),
            ElemType::Other(code) => {
                let name = match code {
                    8 => "string",
                    14 => "complex64",
                    15 => "complex128",
                    17 => "float8e4m3fn",
                    18 => "float8e4m3fnuz",
                    19 => "float8e5m2",
                    20 => "float8e5m2fnuz",
                    21 => "uint4",
                    22 => "int4",
                    23 => "float4e2m1",
                    _ => return write!(f, "ONNX type {code}"),
                };
                write!(f, "{name} (ONNX type {code})")
            }
        }
    }
}

/// Element storage: floats as `f32`, integers and booleans as `i64`.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Float elements.
    Float(Vec<f32>),
    /// Integer or boolean elements.
    Int(Vec<i64>),
}

/// A dense host tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Element type in the source model.
    pub dtype: ElemType,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: TensorData,
}

impl Tensor {
    /// A float32 tensor; `data.len()` must equal the shape's element count.
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor {
            dtype: ElemType::F32,
            shape,
            data: TensorData::Float(data),
        }
    }

    /// An integer tensor of the given type.
    pub fn int(dtype: ElemType, shape: Vec<usize>, data: Vec<i64>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor {
            dtype,
            shape,
            data: TensorData::Int(data),
        }
    }

    /// A 1-D int64 tensor.
    pub fn i64_vec(data: Vec<i64>) -> Self {
        Tensor::int(ElemType::I64, vec![data.len()], data)
    }

    /// Rows `start..end` of the leading dimension (clamped to the rows there are).
    pub fn rows(&self, start: usize, end: usize) -> Self {
        let n = self.shape.first().copied().unwrap_or(0);
        let (start, end) = (start.min(n), end.clamp(start.min(n), n));
        let row: usize = self.shape.iter().skip(1).product();
        let mut shape = self.shape.clone();
        if let Some(first) = shape.first_mut() {
            *first = end - start;
        }
        let data = match &self.data {
            TensorData::Float(v) => TensorData::Float(v[start * row..end * row].to_vec()),
            TensorData::Int(v) => TensorData::Int(v[start * row..end * row].to_vec()),
        };
        Tensor {
            dtype: self.dtype,
            shape,
            data,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::Float(v) => v.len(),
            TensorData::Int(v) => v.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as f32 (integers converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            TensorData::Float(v) => v.clone(),
            TensorData::Int(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The elements as i64 (floats truncated toward zero).
    pub fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            TensorData::Float(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::Int(v) => v.clone(),
        }
    }

    /// The float elements, borrowed, if the tensor holds floats.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::Float(v) => Some(v),
            TensorData::Int(_) => None,
        }
    }

    /// The same elements with another shape of equal element count.
    pub fn reshaped(&self, shape: Vec<usize>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), self.len());
        Tensor {
            dtype: self.dtype,
            shape,
            data: self.data.clone(),
        }
    }

    /// Converts to `to`, with ONNX `Cast` semantics for the supported types.
    pub fn cast(&self, to: ElemType) -> Self {
        let data = if to.is_float() {
            TensorData::Float(self.to_f32())
        } else {
            let ints = match (&self.data, to) {
                (TensorData::Float(v), ElemType::Bool) => {
                    v.iter().map(|&x| i64::from(x != 0.0)).collect()
                }
                (TensorData::Int(v), ElemType::Bool) => {
                    v.iter().map(|&x| i64::from(x != 0)).collect()
                }
                (_, ElemType::I8) => self.to_i64().iter().map(|&x| i64::from(x as i8)).collect(),
                (_, ElemType::U8) => self.to_i64().iter().map(|&x| i64::from(x as u8)).collect(),
                (_, ElemType::I16) => self.to_i64().iter().map(|&x| i64::from(x as i16)).collect(),
                (_, ElemType::U16) => self.to_i64().iter().map(|&x| i64::from(x as u16)).collect(),
                (_, ElemType::I32) => self.to_i64().iter().map(|&x| i64::from(x as i32)).collect(),
                (_, ElemType::U32) => self.to_i64().iter().map(|&x| i64::from(x as u32)).collect(),
                _ => self.to_i64(),
            };
            TensorData::Int(ints)
        };
        Tensor {
            dtype: to,
            shape: self.shape.clone(),
            data,
        }
    }

    /// Row-major strides of `shape`, in elements.
    pub fn strides(shape: &[usize]) -> Vec<usize> {
        let mut strides = vec![1; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        strides
    }

    /// `self` with axes permuted: output axis `i` is input axis `perm[i]`.
    pub fn transposed(&self, perm: &[usize]) -> Self {
        let out_shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let in_strides = Tensor::strides(&self.shape);
        let gather: Vec<usize> = {
            let n = self.len();
            let mut index = vec![0usize; perm.len()];
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(
                    index
                        .iter()
                        .zip(perm)
                        .map(|(&i, &p)| i * in_strides[p])
                        .sum(),
                );
                for d in (0..perm.len()).rev() {
                    index[d] += 1;
                    if index[d] < out_shape[d] {
                        break;
                    }
                    index[d] = 0;
                }
            }
            out
        };
        let data = match &self.data {
            TensorData::Float(v) => TensorData::Float(gather.iter().map(|&i| v[i]).collect()),
            TensorData::Int(v) => TensorData::Int(gather.iter().map(|&i| v[i]).collect()),
        };
        Tensor {
            dtype: self.dtype,
            shape: out_shape,
            data,
        }
    }
}

/// Formats a shape as `[1, 49, 10, 1]`.
pub fn shape_str(shape: &[usize]) -> String {
    format!("{shape:?}")
}
