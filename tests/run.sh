#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a developer's: installs what the tests need
# (Rust targets, the ONNX conformance data, a headless browser), checks that the runtime
# builds without std for the microcontroller targets, and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

nostd_targets=(thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf)
extra_targets=(thumbv7m-none-eabi aarch64-unknown-linux-gnu)

echo "== Rust targets"
rustup target add "${nostd_targets[@]}" "${extra_targets[@]}" >/dev/null

echo "== ONNX conformance data (onnx==1.17.0 wheel from PyPI, cached in .cache/)"
tests/conformance/fetch-onnx-tests.sh

echo "== emulators and cross tools (QEMU, aarch64-linux-gnu-gcc)"
tests/setup-emulators.sh

echo "== ONNX Runtime for the exported-model tests (onnxruntime and numpy from PyPI, venv in .cache/)"
WHITTLE_ORT_PYTHON=$(tests/setup-onnxruntime.sh | tail -n 1)
export WHITTLE_ORT_PYTHON WHITTLE_REQUIRE_ORT=1

echo "== headless browser for the pipeline's HTML report (chromium, Debian package)"
if ! command -v chromium >/dev/null; then
    install=(apt-get install -y -qq --no-install-recommends chromium)
    [ "$(id -u)" -eq 0 ] || install=(sudo "${install[@]}")
    "${install[@]}" >/dev/null || { apt-get update -qq && "${install[@]}" >/dev/null; }
fi
export WHITTLE_REQUIRE_BROWSER=1

echo "== whittle-runtime without std: every operator, and only the int8 KWS set"
kws_features=int8,conv,dense,pool,softmax
for target in "${nostd_targets[@]}"; do
    cargo build --quiet -p whittle-runtime --no-default-features --features all-ops,fast-kernels --target "$target"
    cargo build --quiet -p whittle-runtime --no-default-features --features "$kws_features" --target "$target"
    echo "   $target: ok"
done

echo "== whittle-runtime with only the int8 KWS operators refuses a float model by name"
cargo test --quiet -p whittle-runtime --no-default-features --features "$kws_features" --test opset

echo "== whittle-runtime under Miri: undefined behaviour in the unsafe code (quick: unit and per-operator kernel tests; tests/miri.sh full adds every variant)"
if rustup run nightly rustc --version >/dev/null 2>&1; then
    tests/miri.sh quick
else
    echo "   skipped: no nightly toolchain (rustup toolchain install nightly)"
fi

echo "== whittle-runtime kernels on AArch64 under qemu-aarch64: every variant against the reference, NEON, then SDOT (+dotprod)"
aarch64_kernel_tests=(--test kernels_exact --test kernels_int8 --test kernels_blocked)
cargo test --quiet -p whittle-runtime --target aarch64-unknown-linux-gnu "${aarch64_kernel_tests[@]}"
# Its own target directory, so that the flags do not rebuild the main one.
RUSTFLAGS="-C target-feature=+dotprod" cargo test --quiet -p whittle-runtime \
    --target aarch64-unknown-linux-gnu --target-dir "${CARGO_TARGET_DIR:-target}/aarch64-dotprod" \
    "${aarch64_kernel_tests[@]}"

echo "== tests"
cargo test --workspace --no-fail-fast

# The summaries re-run two fast tests with their output shown; `--workspace` keeps the same
# feature set as above, so nothing is rebuilt.
echo "== conformance summary"
cargo test --quiet --workspace --test conformance -- --nocapture 2>&1 | grep -E '^(ONNX node tests|FAIL)'
cargo test --quiet --workspace --test mlperf -- --nocapture 2>&1 | grep -E '^(SKIPPED|[A-Za-z_0-9]+: max|kws int8|kws pipeline)'
