//! Running a verified model on a caller-provided arena.

use crate::arena::{Unresolved, align_skip};
use crate::dispatch;
use crate::format::{OpDesc, Space, TensorDesc};
use crate::{Element, InvokeError, Model};

/// A model bound to an arena. Inputs are written into the arena, [`Interpreter::invoke`] runs
/// every operator, outputs are read from the arena. Input buffers may be reused for later
/// activations, so write every input again before each `invoke`.
pub struct Interpreter<'r, 'a> {
    model: &'r Model<'a>,
    arena: &'r mut [u8],
}

impl<'r, 'a> Interpreter<'r, 'a> {
    /// Binds `model` to `arena`, skipping up to 15 bytes to align its start.
    pub fn new(model: &'r Model<'a>, arena: &'r mut [u8]) -> Result<Self, InvokeError> {
        let skip = align_skip(arena);
        let needed = model.arena_bytes().saturating_add(skip);
        let got = arena.len();
        let Some(arena) = arena.get_mut(skip..needed) else {
            return Err(InvokeError::ArenaTooSmall {
                needed: u32::try_from(needed).unwrap_or(u32::MAX),
                got: u32::try_from(got).unwrap_or(u32::MAX),
            });
        };
        Ok(Interpreter { model, arena })
    }

    /// The model this interpreter runs.
    pub fn model(&self) -> &'r Model<'a> {
        self.model
    }

    /// The writable data of input `index`.
    pub fn input_mut<T: Element>(&mut self, index: usize) -> Result<&mut [T], InvokeError> {
        let desc = self.model.input(index).ok_or(InvokeError::NoSuchTensor {
            index: saturate(index),
        })?;
        check_dtype::<T>(&desc)?;
        let range = desc.buf.offset as usize..desc.buf.end() as usize;
        let bytes = self
            .arena
            .get_mut(range)
            .ok_or(InvokeError::Internal { op: u16::MAX })?;
        bytemuck::try_cast_slice_mut(bytes).map_err(|_| InvokeError::Internal { op: u16::MAX })
    }

    /// The raw bytes of input `index`, whatever its element type.
    pub fn input_bytes_mut(&mut self, index: usize) -> Result<&mut [u8], InvokeError> {
        let desc = self.model.input(index).ok_or(InvokeError::NoSuchTensor {
            index: saturate(index),
        })?;
        let range = desc.buf.offset as usize..desc.buf.end() as usize;
        self.arena
            .get_mut(range)
            .ok_or(InvokeError::Internal { op: u16::MAX })
    }

    /// The raw bytes of output `index`, whatever its element type.
    pub fn output_bytes(&self, index: usize) -> Result<&[u8], InvokeError> {
        let desc = self.model.output(index).ok_or(InvokeError::NoSuchTensor {
            index: saturate(index),
        })?;
        self.tensor_bytes(&desc)
            .ok_or(InvokeError::Internal { op: u16::MAX })
    }

    /// Copies `data` into input `index`, checking its length.
    pub fn set_input<T: Element>(&mut self, index: usize, data: &[T]) -> Result<(), InvokeError> {
        let slot = self.input_mut::<T>(index)?;
        if slot.len() != data.len() {
            return Err(InvokeError::WrongLength {
                expected: saturate32(slot.len()),
                got: saturate32(data.len()),
            });
        }
        slot.copy_from_slice(data);
        Ok(())
    }

    /// The data of output `index` (valid after [`Interpreter::invoke`]).
    pub fn output<T: Element>(&self, index: usize) -> Result<&[T], InvokeError> {
        let desc = self.model.output(index).ok_or(InvokeError::NoSuchTensor {
            index: saturate(index),
        })?;
        check_dtype::<T>(&desc)?;
        let bytes = self
            .tensor_bytes(&desc)
            .ok_or(InvokeError::Internal { op: u16::MAX })?;
        bytemuck::try_cast_slice(bytes).map_err(|_| InvokeError::Internal { op: u16::MAX })
    }

    /// The current bytes of any tensor of this model (an intermediate one is valid right after
    /// the operator that writes it, until its arena space is reused).
    pub fn tensor_bytes(&self, desc: &TensorDesc<'_>) -> Option<&[u8]> {
        let range = desc.buf.offset as usize..desc.buf.end() as usize;
        match desc.buf.space {
            Space::Arena => self.arena.get(range),
            Space::Weights => self.model.weights().get(range),
        }
    }

    /// Copies `inputs` in (one slice per model input), runs the model and copies the outputs
    /// into `outputs` (one slice per model output), checking every length.
    pub fn run<T: Element>(
        &mut self,
        inputs: &[&[T]],
        outputs: &mut [&mut [T]],
    ) -> Result<(), InvokeError> {
        for (index, data) in inputs.iter().enumerate() {
            self.set_input(index, data)?;
        }
        self.invoke()?;
        for (index, slot) in outputs.iter_mut().enumerate() {
            let result = self.output::<T>(index)?;
            if result.len() != slot.len() {
                return Err(InvokeError::WrongLength {
                    expected: saturate32(result.len()),
                    got: saturate32(slot.len()),
                });
            }
            slot.copy_from_slice(result);
        }
        Ok(())
    }

    /// Runs every operator once.
    pub fn invoke(&mut self) -> Result<(), InvokeError> {
        self.invoke_observed(|_, _, _| {})
    }

    /// Runs every operator once, calling `observer(index, op, output_bytes)` after each one
    /// (for per-layer checksums and comparisons).
    pub fn invoke_observed(
        &mut self,
        mut observer: impl FnMut(usize, &OpDesc, &[u8]),
    ) -> Result<(), InvokeError> {
        let weights = self.model.weights();
        let layout = self.model.layout();
        for (index, op) in self.model.header().ops.iter().enumerate() {
            let op = op.map_err(|_| InvokeError::Internal {
                op: saturate(index),
            })?;
            let output =
                dispatch::run(&op.kind, self.arena, weights, layout).map_err(|Unresolved| {
                    InvokeError::Internal {
                        op: saturate(index),
                    }
                })?;
            let range = output.offset as usize..output.end() as usize;
            observer(
                index,
                &op,
                self.arena.get(range).ok_or(InvokeError::Internal {
                    op: saturate(index),
                })?,
            );
        }
        Ok(())
    }
}

fn saturate(index: usize) -> u16 {
    u16::try_from(index).unwrap_or(u16::MAX)
}

fn saturate32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

fn check_dtype<T: Element>(desc: &TensorDesc<'_>) -> Result<(), InvokeError> {
    if desc.dtype == T::DTYPE {
        Ok(())
    } else {
        Err(InvokeError::WrongDType {
            expected: desc.dtype,
        })
    }
}
