//! Embedding an artifact in firmware with the alignment the loader needs.

/// Includes a `.wtl` file as a `&'static [u8]` aligned to 16 bytes, so [`crate::Model::load`]
/// reads its weights in place (from flash on a microcontroller).
///
/// ```ignore
/// static MODEL: &[u8] = whittle_runtime::include_model!("../model/gesture.wtl");
/// ```
#[macro_export]
macro_rules! include_model {
    ($path:expr) => {{
        #[repr(C, align(16))]
        struct Aligned<T: ?Sized>(T);
        static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}
