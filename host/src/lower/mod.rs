//! IR -> runtime program: every value gets a buffer (arena or weights) and a physical layout;
//! every node becomes zero or more runtime operators. Buffers are identified by index here
//! and receive offsets from the memory planner.

mod int8;
pub mod layout;
mod ops;
pub mod sparse;

use crate::error::CompileError;
use crate::ir::{Graph, Node, ValueId};
use crate::tensor::{Tensor, shape_str};
use std::collections::HashMap;
use whittle_runtime::DType;
use whittle_runtime::format::{Buf, MAX_RANK, OpKind, Space, TensorQuant, Transpose};

/// Where a lowered tensor's bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Loc {
    /// Arena buffer by index.
    Arena(usize),
    /// Weight blob entry by index.
    Weight(usize),
}

/// A value as the runtime sees it.
#[derive(Debug, Clone)]
pub struct Lowered {
    /// Storage.
    pub loc: Loc,
    /// Logical shape (the source model's).
    pub shape: Vec<usize>,
    /// Physical layout: physical axis `i` holds logical axis `perm[i]`.
    pub perm: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Scale and zero point of an int8 tensor.
    pub quant: Option<TensorQuant>,
}

impl Lowered {
    /// A float32 tensor.
    pub fn f32(loc: Loc, shape: Vec<usize>, perm: Vec<usize>) -> Self {
        Lowered {
            loc,
            shape,
            perm,
            dtype: DType::F32,
            quant: None,
        }
    }

    /// Physical dimensions.
    pub fn physical(&self) -> Vec<usize> {
        layout::physical(&self.shape, &self.perm)
    }

    /// Size in bytes.
    pub fn bytes(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.size()
    }
}

/// An arena buffer to be placed by the planner.
#[derive(Debug, Clone)]
pub struct ArenaBuffer {
    /// Size in bytes.
    pub bytes: usize,
    /// Alive before the first operator (graph inputs).
    pub live_at_start: bool,
    /// Alive after the last operator (graph outputs).
    pub live_at_end: bool,
}

/// A named tensor of the artifact's tensor table.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    /// Name (from the source model).
    pub name: String,
    /// Storage.
    pub loc: Loc,
    /// Physical dimensions.
    pub shape: Vec<usize>,
    /// Logical shape in the source model.
    pub logical: Vec<usize>,
    /// Physical layout.
    pub perm: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Quantization of an int8 tensor.
    pub quant: Option<TensorQuant>,
}

/// One runtime operator; its buffers hold indices (`offset` = buffer or weight index) until
/// the artifact writer relocates them.
#[derive(Debug, Clone)]
pub struct ProgramOp {
    /// The operator.
    pub kind: OpKind,
    /// Tensor-table index of its output.
    pub tensor: usize,
    /// Source node it comes from.
    pub node: String,
    /// The IR value its output holds (in whatever layout), if any.
    pub value: Option<ValueId>,
}

/// The lowered model.
#[derive(Debug, Clone, Default)]
pub struct Program {
    /// Operators in execution order.
    pub ops: Vec<ProgramOp>,
    /// Arena buffers.
    pub buffers: Vec<ArenaBuffer>,
    /// Weight blob entries (little-endian bytes).
    pub weights: Vec<Vec<u8>>,
    /// Tensor table.
    pub tensors: Vec<TensorEntry>,
    /// Tensor indices of the inputs.
    pub inputs: Vec<usize>,
    /// Tensor indices of the outputs.
    pub outputs: Vec<usize>,
    /// The layout the artifact writer packs the float32 convolution and fully connected
    /// weights into (`weights` above always hold the reference layout).
    pub layout: whittle_runtime::format::WeightLayout,
}

/// A placeholder buffer reference: `offset` holds the buffer or weight index.
pub fn placeholder(loc: Loc, bytes: usize) -> Buf {
    match loc {
        Loc::Arena(i) => Buf::arena(i as u32, bytes as u32),
        Loc::Weight(i) => Buf::weights(i as u32, bytes as u32),
    }
}

/// The [`Loc`] a placeholder refers to.
pub fn loc_of(buf: &Buf) -> Loc {
    match buf.space {
        Space::Arena => Loc::Arena(buf.offset as usize),
        Space::Weights => Loc::Weight(buf.offset as usize),
    }
}

/// Shortens source-model names (TFLite exports join many names with ';').
pub fn short_name(name: &str) -> String {
    let first = name.split(';').next().unwrap_or(name);
    let mut end = first.len().min(64);
    while !first.is_char_boundary(end) {
        end -= 1;
    }
    first[..end].to_string()
}

pub(crate) struct Lowerer<'g> {
    g: &'g Graph,
    values: HashMap<ValueId, Lowered>,
    converted: HashMap<(ValueId, Vec<usize>), Lowered>,
    weight_index: HashMap<Vec<u8>, usize>,
    program: Program,
    node: Option<&'g Node>,
}

impl<'g> Lowerer<'g> {
    fn new(g: &'g Graph) -> Self {
        Lowerer {
            g,
            values: HashMap::new(),
            converted: HashMap::new(),
            weight_index: HashMap::new(),
            program: Program::default(),
            node: None,
        }
    }

    /// An error about the current node, with its input shapes.
    fn fail(&self, reason: impl Into<String>) -> CompileError {
        let (node, op, shapes) = match self.node {
            Some(n) => {
                let shapes = n
                    .inputs
                    .iter()
                    .flatten()
                    .map(|&i| shape_str(self.g.shape(i)))
                    .collect::<Vec<_>>()
                    .join(", ");
                (n.name.clone(), n.op_type.clone(), format!("[{shapes}]"))
            }
            None => ("<graph>".into(), "-".into(), "[]".into()),
        };
        CompileError::Node {
            node,
            op,
            shapes,
            reason: reason.into(),
        }
    }

    fn new_buffer(&mut self, bytes: usize) -> Loc {
        self.program.buffers.push(ArenaBuffer {
            bytes,
            live_at_start: false,
            live_at_end: false,
        });
        Loc::Arena(self.program.buffers.len() - 1)
    }

    fn add_weight(&mut self, bytes: Vec<u8>) -> Loc {
        let next = self.program.weights.len();
        let index = *self.weight_index.entry(bytes.clone()).or_insert(next);
        if index == next {
            self.program.weights.push(bytes);
        }
        Loc::Weight(index)
    }

    /// Stores float data in the weight blob.
    fn weight_f32(&mut self, data: &[f32]) -> Loc {
        self.add_weight(data.iter().flat_map(|v| v.to_le_bytes()).collect())
    }

    fn add_tensor(&mut self, name: &str, lowered: &Lowered) -> usize {
        self.program.tensors.push(TensorEntry {
            name: short_name(name),
            loc: lowered.loc,
            shape: lowered.physical(),
            logical: lowered.shape.clone(),
            perm: lowered.perm.clone(),
            dtype: lowered.dtype,
            quant: lowered.quant,
        });
        self.program.tensors.len() - 1
    }

    fn emit(&mut self, kind: OpKind, name: &str, output: &Lowered, value: Option<ValueId>) {
        let tensor = self.add_tensor(name, output);
        let node = self.node.map(|n| n.name.clone()).unwrap_or_default();
        self.program.ops.push(ProgramOp {
            kind,
            tensor,
            node,
            value,
        });
    }

    /// A new float32 arena tensor of `shape` in layout `perm`.
    fn fresh(&mut self, shape: &[usize], perm: Vec<usize>) -> Lowered {
        self.fresh_typed(shape, perm, DType::F32, None)
    }

    /// A new arena tensor of any element type.
    fn fresh_typed(
        &mut self,
        shape: &[usize],
        perm: Vec<usize>,
        dtype: DType,
        quant: Option<TensorQuant>,
    ) -> Lowered {
        let loc = self.new_buffer(shape.iter().product::<usize>() * dtype.size());
        Lowered {
            loc,
            shape: shape.to_vec(),
            perm,
            dtype,
            quant,
        }
    }

    /// `value` in layout `perm`: the same bytes when possible, a constant re-laid out at
    /// compile time, or a transpose emitted once and cached.
    fn get(&mut self, value: ValueId, perm: &[usize]) -> Result<Lowered, CompileError> {
        if let Some(t) = self.g.konst(value) {
            return Ok(self.constant(t, perm));
        }
        let current = self.values.get(&value).cloned().ok_or_else(|| {
            self.fail(format!(
                "value '{}' used before it is computed",
                self.g.values[value].name
            ))
        })?;
        if current.perm == perm || layout::same_bytes(&current.shape, &current.perm, perm) {
            return Ok(Lowered {
                perm: perm.to_vec(),
                ..current
            });
        }
        if let Some(done) = self.converted.get(&(value, perm.to_vec())) {
            return Ok(done.clone());
        }
        let physical = current.physical();
        if physical.len() > MAX_RANK {
            return Err(self.fail(format!("rank {} exceeds {MAX_RANK}", physical.len())));
        }
        let out = self.fresh_typed(&current.shape, perm.to_vec(), current.dtype, current.quant);
        let mut t_perm = [0u8; MAX_RANK];
        for (i, p) in layout::conversion(&current.perm, perm)
            .into_iter()
            .enumerate()
        {
            t_perm[i] = p as u8;
        }
        let kind = OpKind::Transpose(Transpose {
            dtype: current.dtype,
            input: placeholder(current.loc, current.bytes()),
            output: placeholder(out.loc, out.bytes()),
            in_shape: shape(&physical)?,
            perm: t_perm,
        });
        let name = format!("{}.relayout", self.g.values[value].name);
        self.emit(kind, &name, &out, Some(value));
        self.converted.insert((value, perm.to_vec()), out.clone());
        Ok(out)
    }

    fn constant(&mut self, t: &Tensor, perm: &[usize]) -> Lowered {
        let data = if perm.iter().enumerate().all(|(i, &p)| i == p) {
            t.to_f32()
        } else {
            t.transposed(perm).to_f32()
        };
        let loc = self.weight_f32(&data);
        Lowered::f32(loc, t.shape.clone(), perm.to_vec())
    }

    /// The layout for an element-wise operator over `ids` (all of rank `rank`): the one that
    /// needs the fewest transposes, given the layouts the run-time operands already have (or
    /// were already converted to); channels-last wins ties, as the convolutions around want it.
    fn common_layout(&self, ids: &[ValueId], rank: usize) -> Vec<usize> {
        let runtime: Vec<ValueId> = ids
            .iter()
            .copied()
            .filter(|&id| self.g.konst(id).is_none() && self.g.shape(id).len() == rank)
            .collect();
        let mut candidates: Vec<Vec<usize>> = runtime
            .iter()
            .filter_map(|id| self.values.get(id).map(|v| v.perm.clone()))
            .collect();
        candidates.push(layout::identity(rank));
        let available = |id: ValueId, perm: &[usize]| {
            self.values
                .get(&id)
                .is_some_and(|v| v.perm == perm || layout::same_bytes(&v.shape, &v.perm, perm))
                || self.converted.contains_key(&(id, perm.to_vec()))
        };
        let cost = |perm: &[usize]| runtime.iter().filter(|&&id| !available(id, perm)).count();
        let identity = layout::identity(rank);
        candidates
            .into_iter()
            .min_by_key(|perm| (cost(perm), *perm == identity))
            .unwrap_or(identity)
    }

    /// The operands of a broadcasting element-wise operator, at the output's `rank` in layout
    /// `chosen` (lower-rank operands get leading unit axes); int8 or float32.
    fn broadcast_operands(
        &mut self,
        ids: &[ValueId],
        rank: usize,
        chosen: &[usize],
        int8: bool,
    ) -> Result<Vec<Lowered>, CompileError> {
        let mut operands = Vec::with_capacity(ids.len());
        for &id in ids {
            let dims = self.g.shape(id).to_vec();
            let padded: Vec<usize> = std::iter::repeat_n(1, rank - dims.len())
                .chain(dims.iter().copied())
                .collect();
            let lowered = if dims.len() == rank {
                if int8 {
                    int8::get_int8(self, id, chosen)?
                } else {
                    self.get(id, chosen)?
                }
            } else if let Some(t) = self.g.konst(id) {
                // A lower-rank constant is stored at full rank in the chosen layout.
                if int8 {
                    int8::constant_int8(self, id, &padded, chosen)?
                } else {
                    let data = t.reshaped(padded.clone()).transposed(chosen).to_f32();
                    Lowered::f32(self.weight_f32(&data), padded, chosen.to_vec())
                }
            } else if layout::same_bytes(&padded, &layout::identity(rank), chosen) {
                let identity = layout::identity(dims.len());
                let base = if int8 {
                    int8::get_int8(self, id, &identity)?
                } else {
                    self.get(id, &identity)?
                };
                Lowered {
                    shape: padded,
                    perm: chosen.to_vec(),
                    ..base
                }
            } else {
                return Err(self.fail(
                    "broadcasting a lower-rank run-time operand across a relaid-out tensor",
                ));
            };
            operands.push(lowered);
        }
        Ok(operands)
    }

    /// Input `i` of `node`, which inference guarantees is present.
    fn required(&self, node: &Node, i: usize) -> Result<ValueId, CompileError> {
        node.input(i)
            .ok_or_else(|| self.fail(format!("input {i} is missing")))
    }

    /// Input `i` of the current node in its current layout (identity for constants).
    fn input_as_is(&mut self, node: &Node, i: usize) -> Result<(ValueId, Lowered), CompileError> {
        let id = node
            .input(i)
            .ok_or_else(|| self.fail(format!("input {i} missing")))?;
        let perm = match self.values.get(&id) {
            Some(l) => l.perm.clone(),
            None => layout::identity(self.g.shape(id).len()),
        };
        Ok((id, self.get(id, &perm)?))
    }

    fn define(&mut self, value: ValueId, lowered: Lowered) {
        self.values.insert(value, lowered);
    }
}

/// Converts a dimension list to a runtime shape.
pub(crate) fn shape(dims: &[usize]) -> Result<whittle_runtime::format::Shape, CompileError> {
    let dims32 = dims
        .iter()
        .map(|&d| u32::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| CompileError::Options(format!("dimension too large in {dims:?}")))?;
    whittle_runtime::format::Shape::new(&dims32)
        .ok_or_else(|| CompileError::Options(format!("rank of {dims:?} exceeds {MAX_RANK}")))
}

/// The runtime element type of an IR value, with its quantization when it is int8.
pub fn runtime_type(value: &crate::ir::Value) -> Result<(DType, Option<TensorQuant>), String> {
    match value.dtype {
        crate::tensor::ElemType::F32 => Ok((DType::F32, None)),
        crate::tensor::ElemType::I8 => match &value.quant {
            Some(q) if q.is_per_tensor() => Ok((
                DType::I8,
                Some(TensorQuant {
                    scale: q.scale[0],
                    zero_point: q.zero_point[0] as i32,
                }),
            )),
            _ => Err(format!(
                "int8 tensor '{}' has no per-tensor quantization",
                value.name
            )),
        },
        other => Err(format!("tensor '{}' is {other} at run time", value.name)),
    }
}

/// Lowers an optimized graph.
pub fn lower(g: &Graph) -> Result<Program, CompileError> {
    let mut l = Lowerer::new(g);
    for &input in &g.inputs {
        let shape = g.shape(input).to_vec();
        let value = &g.values[input];
        let (dtype, quant) = runtime_type(value).map_err(|reason| l.fail(reason))?;
        let lowered = l.fresh_typed(&shape, layout::identity(shape.len()), dtype, quant);
        if let Loc::Arena(b) = lowered.loc {
            l.program.buffers[b].live_at_start = true;
        }
        let tensor = l.add_tensor(&g.values[input].name, &lowered);
        l.program.inputs.push(tensor);
        l.define(input, lowered);
    }
    for node in &g.nodes {
        l.node = Some(node);
        ops::lower_node(&mut l, node)?;
    }
    l.node = None;
    for &output in &g.outputs {
        let rank = g.shape(output).len();
        let lowered = l.get(output, &layout::identity(rank))?;
        if let Loc::Arena(b) = lowered.loc {
            l.program.buffers[b].live_at_end = true;
        }
        let tensor = l.add_tensor(&g.values[output].name, &lowered);
        l.program.outputs.push(tensor);
    }
    Ok(l.program)
}
