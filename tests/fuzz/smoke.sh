#!/usr/bin/env bash
# A short run of fuzz targets from their seeds (tests/fuzz/smoke.sh [SECONDS [TARGET...]],
# default 60 s each, every target), for CI: skipped with a message when no nightly toolchain is installed. The runs use
# a fixed seed and generous time limits so that only a real finding fails them; the compiler's
# targets use an unoptimized build (with overflow checks), which takes minutes instead of a
# quarter hour.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
shift $(( $# < 1 ? $# : 1 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(load_invoke npz onnx_import bundle_verify)
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "fuzz smoke: skipped (no nightly toolchain; rustup toolchain install nightly)"
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    cargo install --quiet --locked cargo-fuzz --version 0.13.2
fi
tests/fuzz/seed.sh
for target in "${targets[@]}"; do
    log=$(mktemp)
    dev=1
    [ "$target" != load_invoke ] || dev=0 # the runtime alone builds optimized in a minute
    if WHITTLE_FUZZ_DEV=$dev tests/fuzz/fuzz.sh "$target" "$seconds" -seed=1 -timeout=60 >"$log" 2>&1; then
        echo "fuzz smoke: $target $(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') executions, no finding"
        rm -f "$log"
    else
        tail -n 60 "$log"
        echo "fuzz smoke: $target found a failing input (tests/fuzz/artifacts/$target/)" >&2
        exit 1
    fi
done
