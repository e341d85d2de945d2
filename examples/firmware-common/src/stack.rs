//! The stack high-water mark: the free stack is painted with a pattern at boot, and the
//! deepest word no longer holding it, found after the work, gives the most stack ever used.

/// What unused stack words hold.
const PAINT: u32 = 0x5741_4C4B;

/// The board's stack: from `bottom` (lowest address it may reach) up to `top` (its start).
#[derive(Debug, Clone, Copy)]
pub struct Stack {
    bottom: usize,
    top: usize,
}

impl Stack {
    /// The stack between the linker symbols' addresses `bottom` and `top`.
    pub fn new(bottom: *const u8, top: *const u8) -> Stack {
        Stack {
            bottom: (bottom as usize).next_multiple_of(4),
            top: top as usize,
        }
    }

    /// Paints every word from `bottom` up to a margin below the current stack pointer.
    #[inline(never)]
    pub fn paint(&self) {
        let here = 0u8;
        let sp = core::ptr::addr_of!(here) as usize;
        // Frames of this function and anything it might spill stay above the margin.
        self.paint_up_to(sp.saturating_sub(256) & !3);
    }

    /// Runs `work` and returns its result with the most stack it used: from this call's frame
    /// down to the deepest word `work` wrote. The free stack is painted again first, so earlier
    /// peaks do not count; the figure may exceed the truth by the small margin left unpainted
    /// under this frame, never fall short of it.
    #[inline(never)]
    pub fn measure<R>(&self, work: impl FnOnce() -> R) -> (R, usize) {
        let here = 0u8;
        let mark = core::ptr::addr_of!(here) as usize;
        self.paint_up_to(mark.saturating_sub(64) & !3);
        let result = work();
        (result, mark.saturating_sub(self.deepest()))
    }

    fn paint_up_to(&self, end: usize) {
        let mut at = self.bottom;
        while at < end {
            // SAFETY: `at` is a 4-aligned address in the board's stack region below the live
            // frames (the linker's stack bounds, ending 256 bytes under this frame); no
            // reference to that memory exists, and nothing else runs (single core, no
            // interrupt uses it at boot).
            unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
            at += 4;
        }
    }

    /// Bytes of stack used at most since [`Stack::paint`]: from `top` down to the lowest word
    /// that no longer holds the paint.
    #[inline(never)]
    pub fn high_water(&self) -> usize {
        self.top - self.deepest()
    }

    /// The lowest address that no longer holds the paint.
    #[inline(never)]
    fn deepest(&self) -> usize {
        let mut at = self.bottom;
        while at < self.top {
            // SAFETY: reads a 4-aligned word of the stack region (bounds from the linker);
            // a volatile read of plain memory, no reference created.
            if unsafe { core::ptr::read_volatile(at as *const u32) } != PAINT {
                break;
            }
            at += 4;
        }
        at
    }
}
