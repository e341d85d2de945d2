//! `.npy` / `.npz` bytes → the data readers.
#![no_main]

#[path = "../harness/host.rs"]
mod host;
// Not called here: the ONNX target runs what it compiles.
#[allow(dead_code)]
#[path = "../harness/runtime.rs"]
mod runtime;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    host::npz(data);
});
