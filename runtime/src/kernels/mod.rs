//! Kernels, one module per operator.
//!
//! Each module's `mod.rs` states the contract and checks the slice lengths (so that a kernel
//! never panics, even if handed inconsistent slices); `reference.rs` is the scalar
//! implementation that defines the operator's semantics. Optimized variants, where they exist,
//! must agree with it.

pub mod binary;
pub mod conv;
pub mod copy;
pub mod dense;
pub mod fixedpoint;
pub mod lookup;
pub mod matmul;
pub mod pad;
pub mod pool;
pub mod quantize;
pub mod softmax;
pub mod sparse;
pub mod transpose;
pub mod unary;

/// A kernel was handed slices whose lengths contradict its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthMismatch;

/// An operand of an element-wise kernel: its own slice, or the output buffer (in place).
#[derive(Debug, Clone, Copy)]
pub enum Src<'a, T> {
    /// A separate, read-only slice.
    Slice(&'a [T]),
    /// The output buffer itself: each element is read before it is overwritten.
    Output,
}

impl<T> Src<'_, T> {
    /// The operand's length, given the output's.
    pub fn len_or(&self, output_len: usize) -> usize {
        match self {
            Src::Slice(s) => s.len(),
            Src::Output => output_len,
        }
    }
}

/// `Ok` when `len == expected`, computed without overflow.
pub(crate) fn expect_len(len: usize, expected: Option<usize>) -> Result<(), LengthMismatch> {
    if Some(len) == expected {
        Ok(())
    } else {
        Err(LengthMismatch)
    }
}

/// `s` in consecutive chunks of `n` elements, a shorter remainder left out; nothing when `n`
/// is 0. Like `chunks_exact`, without its assertion, and without the division by `n` that
/// `zip` makes of a `chunks_exact` iterator's length: no panic is left for the optimizer to
/// prove unreachable (docs/panic-free.md).
pub(crate) fn chunks<T>(s: &[T], n: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = s;
    core::iter::from_fn(move || {
        let (chunk, tail) = rest.split_at_checked(n).filter(|_| n > 0)?;
        rest = tail;
        Some(chunk)
    })
}

/// [`chunks`] of a mutable slice.
pub(crate) fn chunks_mut<T>(s: &mut [T], n: usize) -> impl Iterator<Item = &mut [T]> {
    let mut rest = s;
    core::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let (chunk, tail) = core::mem::take(&mut rest).split_at_mut_checked(n)?;
        rest = tail;
        Some(chunk)
    })
}

/// Copies `from` into `to`, as many elements as the shorter holds. `copy_from_slice` asserts
/// equal lengths in a function that opt-level "z" shares between callers rather than inlines,
/// so the optimizer cannot remove its panic; and a copy loop does not become a `memcpy` at
/// that level.
#[allow(unsafe_code)]
#[inline(always)]
pub(crate) fn copy<T: Copy>(to: &mut [T], from: &[T]) {
    let len = to.len().min(from.len());
    // SAFETY: both slices hold at least `len` elements, and a mutable slice never overlaps a
    // shared one.
    unsafe { core::ptr::copy_nonoverlapping(from.as_ptr(), to.as_mut_ptr(), len) }
}

/// Product of `u32` factors as `usize`, `None` on overflow.
pub(crate) fn product(factors: &[u32]) -> Option<usize> {
    factors
        .iter()
        .try_fold(1usize, |acc, &f| acc.checked_mul(usize::try_from(f).ok()?))
}

/// Implementations of the int8 convolution and fully connected kernels. They agree bit for
/// bit; [`Variant::selected`] is the one the interpreter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Variant {
    /// The scalar specification (`reference.rs`), never optimized.
    Reference,
    /// Portable optimized code: specialised loops, zero-point terms hoisted out of them.
    Portable,
    /// The portable loops with Cortex-M DSP (`SXTB16`/`SMLAD`) dot products.
    #[cfg(whittle_arm_dsp)]
    ArmDsp,
    /// x86_64 AVX2 (`VPMOVSXBW` + `VPMADDWD`, int32 accumulators): pointwise, depthwise and
    /// fully connected kernels of their own, the other convolutions through AVX2 dot products.
    /// Compiled on x86_64 with the `avx2` target feature or the `std` feature; on a CPU
    /// without AVX2 (detected at run time) it runs the portable code.
    #[cfg(whittle_avx2)]
    Avx2,
    /// [`Variant::Avx2`] with `VPDPBUSD` (four byte products per 32-bit lane) for the
    /// one-group convolutions; everything else as `Avx2`. Picked at run time (with `std`) on
    /// CPUs that have AVX-VNNI (Intel Alder Lake, Sapphire Rapids and later, AMD Zen 5) or
    /// AVX512-VNNI with AVX512-VL (Intel Ice Lake and later Xeons, AMD Zen 4), on 256-bit
    /// vectors either way; on a CPU with neither, it runs the `Avx2` code.
    #[cfg(whittle_avx2)]
    AvxVnni,
    /// AArch64 NEON (`SMULL` + `SADALP`, int32 accumulators) dot products in the portable
    /// loops, sixteen int8 values at a time. Compiled on AArch64 targets with `neon` (all
    /// the Linux ones).
    #[cfg(whittle_neon)]
    Neon,
    /// [`Variant::Neon`] with the dot-product extension's `SDOT` (Armv8.2-A and later:
    /// Cortex-A55/A76 and newer). Compiled with `-C target-feature=+dotprod`.
    #[cfg(whittle_neon_dot)]
    NeonDot,
}

impl Variant {
    /// Every variant this target can run, the reference first.
    pub const ALL: &'static [Variant] = &[
        Variant::Reference,
        Variant::Portable,
        #[cfg(whittle_arm_dsp)]
        Variant::ArmDsp,
        #[cfg(whittle_avx2)]
        Variant::Avx2,
        #[cfg(whittle_avx2)]
        Variant::AvxVnni,
        #[cfg(whittle_neon)]
        Variant::Neon,
        #[cfg(whittle_neon_dot)]
        Variant::NeonDot,
    ];

    /// The fastest variant known at compile time with the `fast-kernels` feature, else the
    /// reference (the smallest code). [`Variant::selected`] refines it at run time.
    pub const BEST: Variant = if cfg!(feature = "fast-kernels") {
        Self::FASTEST
    } else {
        Variant::Reference
    };

    #[cfg(whittle_arm_dsp)]
    const FASTEST: Variant = Variant::ArmDsp;
    #[cfg(all(
        whittle_avx2,
        target_feature = "avx2",
        not(any(
            target_feature = "avxvnni",
            all(target_feature = "avx512vnni", target_feature = "avx512vl")
        ))
    ))]
    const FASTEST: Variant = Variant::Avx2;
    #[cfg(all(
        whittle_avx2,
        target_feature = "avx2",
        any(
            target_feature = "avxvnni",
            all(target_feature = "avx512vnni", target_feature = "avx512vl")
        )
    ))]
    const FASTEST: Variant = Variant::AvxVnni;
    #[cfg(whittle_neon_dot)]
    const FASTEST: Variant = Variant::NeonDot;
    #[cfg(all(whittle_neon, not(whittle_neon_dot)))]
    const FASTEST: Variant = Variant::Neon;
    #[cfg(not(any(
        whittle_arm_dsp,
        all(whittle_avx2, target_feature = "avx2"),
        whittle_neon
    )))]
    const FASTEST: Variant = Variant::Portable;

    /// The variant the interpreter runs: [`Variant::BEST`], except that a `std` build on
    /// x86_64 with `fast-kernels` runs the `AvxVnni` variant when the CPU has AVX-VNNI (or
    /// AVX512-VNNI with AVX512-VL), the
    /// `Avx2` one when it has AVX2 (detected at run time, once). Without `std` this is the
    /// constant [`Variant::BEST`].
    #[inline(always)]
    pub fn selected() -> Variant {
        #[cfg(whittle_avx2)]
        if cfg!(feature = "fast-kernels") && conv::vnni_available() {
            return Variant::AvxVnni;
        }
        #[cfg(whittle_avx2)]
        if cfg!(feature = "fast-kernels") && conv::avx2_available() {
            return Variant::Avx2;
        }
        Self::BEST
    }

    /// Whether this variant runs its own code on this CPU (rather than falling back to the
    /// portable code): always, except `Avx2` on a CPU without AVX2 and `AvxVnni` on one
    /// without AVX-VNNI or AVX512-VNNI with AVX512-VL.
    pub fn is_native(self) -> bool {
        match self {
            #[cfg(whittle_avx2)]
            Variant::Avx2 => conv::avx2_available(),
            #[cfg(whittle_avx2)]
            Variant::AvxVnni => conv::vnni_available(),
            _ => true,
        }
    }

    /// A short name for reports (`whittle bench`, firmware logs).
    pub const fn name(self) -> &'static str {
        match self {
            Variant::Reference => "reference",
            Variant::Portable => "portable",
            #[cfg(whittle_arm_dsp)]
            Variant::ArmDsp => "arm-dsp",
            #[cfg(whittle_avx2)]
            Variant::Avx2 => "avx2",
            #[cfg(whittle_avx2)]
            Variant::AvxVnni => "avx-vnni",
            #[cfg(whittle_neon)]
            Variant::Neon => "neon",
            #[cfg(whittle_neon_dot)]
            Variant::NeonDot => "neon-dot",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{chunks, chunks_mut, copy};

    #[test]
    fn chunks_leave_out_the_remainder_and_a_zero_size() {
        let s = [1, 2, 3, 4, 5];
        assert!(chunks(&s, 2).eq([&[1, 2][..], &[3, 4]]));
        assert_eq!(chunks(&s, 0).count(), 0);
        assert_eq!(chunks(&s, 6).count(), 0);
        let mut m = s;
        for chunk in chunks_mut(&mut m, 3) {
            chunk.reverse();
        }
        assert_eq!(m, [3, 2, 1, 4, 5]);
        assert_eq!(chunks_mut(&mut m, 0).count(), 0);
    }

    #[test]
    fn copy_stops_at_the_shorter_slice() {
        let mut to = [0u16; 3];
        copy(&mut to, &[7, 8]);
        assert_eq!(to, [7, 8, 0]);
        copy(&mut to, &[1, 2, 3, 4]);
        assert_eq!(to, [1, 2, 3]);
    }
}
