//! The raw `.bin` image.

use super::FlashImage;

/// What erased NOR flash reads as: gap bytes of this value leave the flash as it was.
pub(super) const ERASED: u8 = 0xFF;

/// The bytes from the image's base address to its end, gaps filled with [`ERASED`].
pub(super) fn write(image: &FlashImage) -> Vec<u8> {
    let base = image.base_address();
    // At most `MAX_SPAN` bytes, checked when the image was made.
    let mut out = vec![ERASED; (image.end_address() - base) as usize];
    for segment in image.segments() {
        let start = (segment.address - base) as usize;
        out[start..start + segment.data.len()].copy_from_slice(&segment.data);
    }
    out
}
