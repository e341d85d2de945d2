//! Artifact bytes → `Model::load` / `load_for_diagnosis` → `invoke` → `validate`.
#![no_main]

#[path = "../harness/runtime.rs"]
mod runtime;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    runtime::load_and_run(data);
});
