//! Bundle bytes → the offline verifier.
#![no_main]

#[path = "../harness/host.rs"]
mod host;
#[path = "../harness/runtime.rs"]
mod runtime;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    host::bundle_verify(data);
});
