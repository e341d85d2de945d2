//! ONNX bytes → `check` and `compile`, and the runtime on what compiles.
#![no_main]

#[path = "../harness/host.rs"]
mod host;
#[path = "../harness/runtime.rs"]
mod runtime;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    host::onnx_import(data);
});
