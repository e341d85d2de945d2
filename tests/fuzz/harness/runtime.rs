//! Artifact bytes → load → invoke → validate. Whatever the bytes, the runtime returns `Ok` or
//! a typed error; it never panics, reads out of bounds or loops forever.

use whittle_runtime::{AlignedArena, AlignedBytes, Interpreter, Model, NoCounter, validate};

/// The fixed arena every fuzzed model gets; a model that asks for more is refused by
/// `Interpreter::new`, which is part of what is tested.
pub const ARENA_BYTES: usize = 256 * 1024;

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// Refused by the loader.
    Refused,
    /// Loaded, but asks for more than the fixed arena.
    Loaded,
    /// Loaded and ran.
    Ran,
}

/// Loads `bytes` both ways and runs whatever loads.
pub fn load_and_run(bytes: &[u8]) -> Reached {
    // The loader works on aligned flash; libFuzzer's buffer has no such promise.
    let artifact = AlignedBytes::new(bytes);
    // The checked load on the bytes as given: the checksums refuse nearly every mutation.
    let checked = Model::load(&artifact);
    // The structural checks alone (what a device uses to diagnose a damaged model) are what
    // a mutation can get through, so everything after them is exercised too.
    let Ok(model) = Model::load_for_diagnosis(&artifact) else {
        assert!(
            checked.is_err(),
            "the checked load accepted what diagnosis refused"
        );
        return Reached::Refused;
    };
    let mut arena = Box::new(AlignedArena::<ARENA_BYTES>::new());
    let arena = arena.as_mut_slice();
    let mut reached = Reached::Loaded;
    if let Ok(mut interp) = Interpreter::new(&model, arena) {
        reached = Reached::Ran;
        for index in 0..model.input_count() {
            if let Ok(input) = interp.input_bytes_mut(index) {
                // Deterministic, varied input values (NaN and infinities included for floats).
                for (i, byte) in input.iter_mut().enumerate() {
                    *byte = (i as u8).wrapping_mul(31).wrapping_add(7);
                }
            }
        }
        // The loader checked every offset, shape and parameter, so invoke has nothing left
        // to refuse: an error here is a gap in those checks.
        if let Err(err) = interp.invoke() {
            panic!("invoke failed on a model that loaded: {err:?}");
        }
        for index in 0..model.output_count() {
            assert!(interp.output_bytes(index).is_ok(), "output {index}");
        }
    }
    let mut report = String::new();
    let _ = validate(&model, arena, &mut report, &mut NoCounter);
    reached
}
