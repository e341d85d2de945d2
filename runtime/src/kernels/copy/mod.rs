//! Strided block copy: one axis of a concatenation, a slice or a split.

use super::LengthMismatch;

/// Where the blocks of a [`copy_blocks`] call start and how far apart they are.
#[derive(Debug, Clone, Copy)]
pub struct BlockCopy {
    /// Number of blocks.
    pub blocks: u32,
    /// Bytes per block.
    pub block: u32,
    /// Source offset of block 0.
    pub src_offset: u32,
    /// Source distance between blocks.
    pub src_stride: u32,
    /// Destination offset of block 0.
    pub dst_offset: u32,
    /// Destination distance between blocks.
    pub dst_stride: u32,
}

/// Last byte (exclusive) a block sequence touches, `None` on overflow.
pub fn extent(blocks: u32, block: u32, offset: u32, stride: u32) -> Option<u64> {
    if blocks == 0 || block == 0 {
        return Some(0);
    }
    Some(u64::from(blocks - 1) * u64::from(stride) + u64::from(offset) + u64::from(block))
}

/// Copies block `i` from `input[src_offset + i * src_stride ..]` to
/// `output[dst_offset + i * dst_stride ..]`.
pub fn copy_blocks(c: &BlockCopy, input: &[u8], output: &mut [u8]) -> Result<(), LengthMismatch> {
    if c.blocks == 0 || c.block == 0 {
        return Ok(());
    }
    let src_end = extent(c.blocks, c.block, c.src_offset, c.src_stride).ok_or(LengthMismatch)?;
    let dst_end = extent(c.blocks, c.block, c.dst_offset, c.dst_stride).ok_or(LengthMismatch)?;
    if src_end > input.len() as u64 || dst_end > output.len() as u64 {
        return Err(LengthMismatch);
    }
    let [block, src_offset, src_stride, dst_offset, dst_stride] = [
        c.block,
        c.src_offset,
        c.src_stride,
        c.dst_offset,
        c.dst_stride,
    ]
    .map(|v| v as usize);
    for i in 0..c.blocks as usize {
        let (src, dst) = (src_offset + i * src_stride, dst_offset + i * dst_stride);
        let (Some(from), Some(to)) = (
            input.get(src..src + block),
            output.get_mut(dst..dst + block),
        ) else {
            return Err(LengthMismatch);
        };
        super::copy(to, from);
    }
    Ok(())
}
