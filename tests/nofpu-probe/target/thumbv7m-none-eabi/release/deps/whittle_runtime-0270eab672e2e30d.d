/work/main/tests/nofpu-probe/target/thumbv7m-none-eabi/release/deps/whittle_runtime-0270eab672e2e30d.d: /work/main/runtime/src/lib.rs /work/main/runtime/src/arena.rs /work/main/runtime/src/checksum.rs /work/main/runtime/src/dispatch.rs /work/main/runtime/src/dtype.rs /work/main/runtime/src/error.rs /work/main/runtime/src/format/mod.rs /work/main/runtime/src/format/header.rs /work/main/runtime/src/format/int8.rs /work/main/runtime/src/format/ops.rs /work/main/runtime/src/format/params.rs /work/main/runtime/src/format/preamble.rs /work/main/runtime/src/format/section.rs /work/main/runtime/src/include.rs /work/main/runtime/src/interpreter.rs /work/main/runtime/src/kernels/mod.rs /work/main/runtime/src/kernels/binary/mod.rs /work/main/runtime/src/kernels/binary/reference.rs /work/main/runtime/src/kernels/conv/mod.rs /work/main/runtime/src/kernels/conv/reference.rs /work/main/runtime/src/kernels/copy/mod.rs /work/main/runtime/src/kernels/dense/mod.rs /work/main/runtime/src/kernels/dense/reference.rs /work/main/runtime/src/kernels/fixedpoint.rs /work/main/runtime/src/kernels/lookup/mod.rs /work/main/runtime/src/kernels/matmul/mod.rs /work/main/runtime/src/kernels/matmul/reference.rs /work/main/runtime/src/kernels/pad/mod.rs /work/main/runtime/src/kernels/pad/reference.rs /work/main/runtime/src/kernels/pool/mod.rs /work/main/runtime/src/kernels/pool/reference.rs /work/main/runtime/src/kernels/quantize/mod.rs /work/main/runtime/src/kernels/softmax/mod.rs /work/main/runtime/src/kernels/softmax/reference.rs /work/main/runtime/src/kernels/transpose/mod.rs /work/main/runtime/src/kernels/transpose/reference.rs /work/main/runtime/src/kernels/unary/mod.rs /work/main/runtime/src/kernels/unary/reference.rs /work/main/runtime/src/model.rs /work/main/runtime/src/verify/mod.rs /work/main/runtime/src/verify/float.rs /work/main/runtime/src/verify/int8.rs

/work/main/tests/nofpu-probe/target/thumbv7m-none-eabi/release/deps/libwhittle_runtime-0270eab672e2e30d.rmeta: /work/main/runtime/src/lib.rs /work/main/runtime/src/arena.rs /work/main/runtime/src/checksum.rs /work/main/runtime/src/dispatch.rs /work/main/runtime/src/dtype.rs /work/main/runtime/src/error.rs /work/main/runtime/src/format/mod.rs /work/main/runtime/src/format/header.rs /work/main/runtime/src/format/int8.rs /work/main/runtime/src/format/ops.rs /work/main/runtime/src/format/params.rs /work/main/runtime/src/format/preamble.rs /work/main/runtime/src/format/section.rs /work/main/runtime/src/include.rs /work/main/runtime/src/interpreter.rs /work/main/runtime/src/kernels/mod.rs /work/main/runtime/src/kernels/binary/mod.rs /work/main/runtime/src/kernels/binary/reference.rs /work/main/runtime/src/kernels/conv/mod.rs /work/main/runtime/src/kernels/conv/reference.rs /work/main/runtime/src/kernels/copy/mod.rs /work/main/runtime/src/kernels/dense/mod.rs /work/main/runtime/src/kernels/dense/reference.rs /work/main/runtime/src/kernels/fixedpoint.rs /work/main/runtime/src/kernels/lookup/mod.rs /work/main/runtime/src/kernels/matmul/mod.rs /work/main/runtime/src/kernels/matmul/reference.rs /work/main/runtime/src/kernels/pad/mod.rs /work/main/runtime/src/kernels/pad/reference.rs /work/main/runtime/src/kernels/pool/mod.rs /work/main/runtime/src/kernels/pool/reference.rs /work/main/runtime/src/kernels/quantize/mod.rs /work/main/runtime/src/kernels/softmax/mod.rs /work/main/runtime/src/kernels/softmax/reference.rs /work/main/runtime/src/kernels/transpose/mod.rs /work/main/runtime/src/kernels/transpose/reference.rs /work/main/runtime/src/kernels/unary/mod.rs /work/main/runtime/src/kernels/unary/reference.rs /work/main/runtime/src/model.rs /work/main/runtime/src/verify/mod.rs /work/main/runtime/src/verify/float.rs /work/main/runtime/src/verify/int8.rs

/work/main/runtime/src/lib.rs:
/work/main/runtime/src/arena.rs:
/work/main/runtime/src/checksum.rs:
/work/main/runtime/src/dispatch.rs:
/work/main/runtime/src/dtype.rs:
/work/main/runtime/src/error.rs:
/work/main/runtime/src/format/mod.rs:
/work/main/runtime/src/format/header.rs:
/work/main/runtime/src/format/int8.rs:
/work/main/runtime/src/format/ops.rs:
/work/main/runtime/src/format/params.rs:
/work/main/runtime/src/format/preamble.rs:
/work/main/runtime/src/format/section.rs:
/work/main/runtime/src/include.rs:
/work/main/runtime/src/interpreter.rs:
/work/main/runtime/src/kernels/mod.rs:
/work/main/runtime/src/kernels/binary/mod.rs:
/work/main/runtime/src/kernels/binary/reference.rs:
/work/main/runtime/src/kernels/conv/mod.rs:
/work/main/runtime/src/kernels/conv/reference.rs:
/work/main/runtime/src/kernels/copy/mod.rs:
/work/main/runtime/src/kernels/dense/mod.rs:
/work/main/runtime/src/kernels/dense/reference.rs:
/work/main/runtime/src/kernels/fixedpoint.rs:
/work/main/runtime/src/kernels/lookup/mod.rs:
/work/main/runtime/src/kernels/matmul/mod.rs:
/work/main/runtime/src/kernels/matmul/reference.rs:
/work/main/runtime/src/kernels/pad/mod.rs:
/work/main/runtime/src/kernels/pad/reference.rs:
/work/main/runtime/src/kernels/pool/mod.rs:
/work/main/runtime/src/kernels/pool/reference.rs:
/work/main/runtime/src/kernels/quantize/mod.rs:
/work/main/runtime/src/kernels/softmax/mod.rs:
/work/main/runtime/src/kernels/softmax/reference.rs:
/work/main/runtime/src/kernels/transpose/mod.rs:
/work/main/runtime/src/kernels/transpose/reference.rs:
/work/main/runtime/src/kernels/unary/mod.rs:
/work/main/runtime/src/kernels/unary/reference.rs:
/work/main/runtime/src/model.rs:
/work/main/runtime/src/verify/mod.rs:
/work/main/runtime/src/verify/float.rs:
/work/main/runtime/src/verify/int8.rs:
