//! The caller's arena: alignment, and splitting it into an operator's read-only inputs and its
//! writable output without `unsafe`.

use crate::format::{ARENA_ALIGN, Buf, Space};
use crate::kernels::Src;

/// A byte array aligned for every element type and SIMD load; use it as the arena.
///
/// ```
/// static mut ARENA: whittle_runtime::AlignedArena<4096> = whittle_runtime::AlignedArena::new();
/// ```
#[repr(C, align(16))]
pub struct AlignedArena<const N: usize>([u8; N]);

impl<const N: usize> AlignedArena<N> {
    /// A zeroed arena.
    pub const fn new() -> Self {
        AlignedArena([0; N])
    }

    /// The whole arena as bytes.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl<const N: usize> Default for AlignedArena<N> {
    fn default() -> Self {
        Self::new()
    }
}

const _: () = assert!(core::mem::align_of::<AlignedArena<1>>() == ARENA_ALIGN);

/// Bytes to skip at the start of `bytes` to reach [`ARENA_ALIGN`].
pub(crate) fn align_skip(bytes: &[u8]) -> usize {
    (ARENA_ALIGN - bytes.as_ptr().addr() % ARENA_ALIGN) % ARENA_ALIGN
}

/// Why an operand could not be resolved (unreachable for verified artifacts).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unresolved;

/// Read access to everything except the current output: the arena before and after it, and
/// the weight blob.
pub(crate) struct Inputs<'x> {
    below: &'x [u8],
    above: &'x [u8],
    above_start: usize,
    weights: &'x [u8],
    output: Buf,
}

/// Splits the arena around `output`, which must be an arena buffer.
pub(crate) fn split<'x>(
    arena: &'x mut [u8],
    weights: &'x [u8],
    output: Buf,
) -> Result<(Inputs<'x>, &'x mut [u8]), Unresolved> {
    if output.space != Space::Arena {
        return Err(Unresolved);
    }
    let start = output.offset as usize;
    let end = start.checked_add(output.bytes as usize).ok_or(Unresolved)?;
    let (below, rest) = arena.split_at_mut_checked(start).ok_or(Unresolved)?;
    let (out, above) = rest
        .split_at_mut_checked(output.bytes as usize)
        .ok_or(Unresolved)?;
    Ok((
        Inputs {
            below,
            above,
            above_start: end,
            weights,
            output,
        },
        out,
    ))
}

impl<'x> Inputs<'x> {
    /// The bytes of an input buffer, or [`Src::Output`] when it is the output buffer itself.
    pub(crate) fn bytes(&self, buf: Buf) -> Result<Src<'x, u8>, Unresolved> {
        let start = buf.offset as usize;
        let end = start.checked_add(buf.bytes as usize).ok_or(Unresolved)?;
        if buf.bytes == 0 {
            return Ok(Src::Slice(&[]));
        }
        match buf.space {
            Space::Weights => self
                .weights
                .get(start..end)
                .map(Src::Slice)
                .ok_or(Unresolved),
            Space::Arena if buf == self.output => Ok(Src::Output),
            Space::Arena if end <= self.output.offset as usize => {
                self.below.get(start..end).map(Src::Slice).ok_or(Unresolved)
            }
            Space::Arena if start >= self.above_start => self
                .above
                .get(start - self.above_start..end - self.above_start)
                .map(Src::Slice)
                .ok_or(Unresolved),
            Space::Arena => Err(Unresolved),
        }
    }

    /// A typed input that must not be the output buffer.
    pub(crate) fn typed<T: bytemuck::Pod>(&self, buf: Buf) -> Result<&'x [T], Unresolved> {
        match self.bytes(buf)? {
            Src::Slice(bytes) => cast(bytes),
            Src::Output => Err(Unresolved),
        }
    }

    /// A typed input that may be the output buffer (element-wise operators in place).
    pub(crate) fn typed_src<T: bytemuck::Pod>(&self, buf: Buf) -> Result<Src<'x, T>, Unresolved> {
        match self.bytes(buf)? {
            Src::Slice(bytes) => cast(bytes).map(Src::Slice),
            Src::Output => Ok(Src::Output),
        }
    }
}

/// Reinterprets input bytes as `T`s. An empty buffer is an empty slice wherever it points
/// (the loader accepts zero-sized tensors, whose address need not suit `T`).
fn cast<T: bytemuck::Pod>(bytes: &[u8]) -> Result<&[T], Unresolved> {
    if bytes.is_empty() {
        return Ok(&[]);
    }
    bytemuck::try_cast_slice(bytes).map_err(|_| Unresolved)
}
