//! The arena as a static that is handed out once, so it lives in `.bss` (its size shows in the
//! image) rather than on the stack.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use whittle_runtime::AlignedArena;

/// A static [`AlignedArena`] of `N` bytes whose `&'static mut` is handed out at most once.
pub struct StaticArena<const N: usize> {
    taken: AtomicBool,
    arena: UnsafeCell<AlignedArena<N>>,
}

// SAFETY: the only access to `arena` is the single `&mut` that `take` hands out, guarded by the
// atomic `taken` flag, so sharing the static between contexts cannot create aliasing.
unsafe impl<const N: usize> Sync for StaticArena<N> {}

impl<const N: usize> StaticArena<N> {
    /// A zeroed arena, not yet taken.
    pub const fn new() -> Self {
        StaticArena {
            taken: AtomicBool::new(false),
            arena: UnsafeCell::new(AlignedArena::new()),
        }
    }

    /// The whole arena, the first time; `None` afterwards.
    #[expect(
        clippy::mut_from_ref,
        reason = "the one `&mut` is handed out once, guarded by `taken`"
    )]
    pub fn take(&'static self) -> Option<&'static mut [u8]> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `taken` was false and is now true, so no other reference to the arena was or
        // will ever be created; the static lives for the whole program.
        let arena = unsafe { &mut *self.arena.get() };
        Some(arena.as_mut_slice())
    }
}

impl<const N: usize> Default for StaticArena<N> {
    fn default() -> Self {
        Self::new()
    }
}
