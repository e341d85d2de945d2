#!/usr/bin/env bash
# Runs one fuzz target for a chosen time: tests/fuzz/fuzz.sh TARGET [SECONDS] [libFuzzer flags]
# Targets: load_invoke (the runtime), npz, onnx_import, bundle_verify (the compiler's readers).
# Needs nightly and cargo-fuzz (`cargo install cargo-fuzz`); seed the corpora first with
# tests/fuzz/seed.sh. A finding is written to tests/fuzz/artifacts/TARGET/; copy it into
# tests/fuzz/regressions/TARGET/ so the ordinary test suite replays it. WHITTLE_FUZZ_DEV=1
# builds without optimization (with overflow checks): much quicker to build, slower to run.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tests/fuzz/fuzz.sh TARGET [SECONDS] [libFuzzer flags]}
seconds=${2:-60}
shift $(( $# < 2 ? $# : 2 ))
case "$target" in
    # The runtime holds the unsafe code (SIMD kernels): AddressSanitizer watches it.
    load_invoke) build=(--sanitizer address) dir=address ;;
    # The compiler is safe Rust: no sanitizer, more executions per second.
    npz | onnx_import | bundle_verify) build=(--sanitizer none --features host) dir=host ;;
    *) echo "unknown fuzz target '$target'" >&2; exit 2 ;;
esac
if [ "${WHITTLE_FUZZ_DEV:-0}" = 1 ]; then
    build+=(--dev) dir=$dir-dev
fi
build+=(--target-dir "tests/fuzz/target/$dir")
mkdir -p "tests/fuzz/corpus/$target"
exec cargo +nightly fuzz run --fuzz-dir tests/fuzz "${build[@]}" "$target" \
    "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$@"
