//! int8 Add/Sub/Mul: every variant against the reference, on operands of the output's shape
//! (the optimized variants' tables from 1,024 elements), broadcast operands and operands in
//! place.

use super::*;
use whittle_runtime::format::{BinaryKindI8, Shape};
use whittle_runtime::kernels::Src;
use whittle_runtime::kernels::binary::{QuantBinary, binary_i8_variant};

/// Which operand, if any, is the output buffer itself.
#[derive(Debug, Clone, Copy)]
enum InPlace {
    No,
    A,
    B,
}

/// Random parameters: zero points anywhere in int8, multipliers in the compiler's range,
/// any left shift the format allows, activation ranges full or narrowed.
fn quant(rng: &mut Rng, kind: BinaryKindI8) -> QuantBinary {
    let zp = |rng: &mut Rng| rng.range(-128, 127) as i32;
    let scale = |rng: &mut Rng, lo: i64, hi: i64| {
        (
            rng.range(1 << 30, i64::from(i32::MAX)) as i32,
            rng.range(lo, hi) as i32,
        )
    };
    let (lo, hi) = (rng.range(-128, 127) as i8, rng.range(-128, 127) as i8);
    // The output rescale undoes the left shift (within a factor of 4), so that the outputs
    // spread over int8 and a term off by one shows now and then.
    let left_shift = rng.range(0, 20);
    QuantBinary {
        kind,
        zero_points: [zp(rng), zp(rng), zp(rng)],
        a_scale: scale(rng, -3, 0),
        b_scale: scale(rng, -3, 0),
        out_scale: scale(rng, -left_shift - 2, -left_shift),
        left_shift: left_shift as u8,
        act_min: lo.min(hi),
        act_max: if rng.next().is_multiple_of(2) {
            127
        } else {
            lo.max(hi)
        },
    }
}

fn check(len: usize, seed: u64, kind: BinaryKindI8, in_place: InPlace, broadcast_b: bool) {
    let mut rng = Rng(seed);
    let q = quant(&mut rng, kind);
    let a = rng.bytes(len, -128);
    let b = rng.bytes(if broadcast_b { 1 } else { len }, -128);
    let full = Shape::new(&[len as u32]).unwrap();
    let one = Shape::new(&[1]).unwrap();
    let b_shape = if broadcast_b { &one } else { &full };
    let run = |variant: Variant| {
        let mut y = match in_place {
            InPlace::No => vec![0i8; len],
            InPlace::A => a.clone(),
            InPlace::B => b.clone(),
        };
        let (sa, sb) = match in_place {
            InPlace::No => (Src::Slice(&a[..]), Src::Slice(&b[..])),
            InPlace::A => (Src::Output, Src::Slice(&b[..])),
            InPlace::B => (Src::Slice(&a[..]), Src::Output),
        };
        binary_i8_variant(variant, &q, [&full, b_shape, &full], sa, sb, &mut y).unwrap();
        y
    };
    let expected = run(Variant::Reference);
    for &variant in Variant::ALL {
        assert_eq!(
            run(variant),
            expected,
            "{} differs: {q:?}, len {len}, {in_place:?}",
            variant.name()
        );
    }
}

#[test]
fn add_sub_mul_match_the_reference() {
    let kinds = [BinaryKindI8::Add, BinaryKindI8::Sub, BinaryKindI8::Mul];
    for (seed, len) in [1usize, 1023, 1024, 1025, 4096, 5000]
        .into_iter()
        .enumerate()
    {
        for (k, kind) in kinds.into_iter().enumerate() {
            for place in [InPlace::No, InPlace::A, InPlace::B] {
                let seed = (seed * 16 + k * 4) as u64;
                check(len, seed, kind, place, false);
                if matches!(place, InPlace::No | InPlace::A) {
                    check(len, seed + 1, kind, place, true);
                }
            }
        }
    }
}
