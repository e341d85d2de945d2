#!/usr/bin/env bash
# The runtime's tests under Miri, which reports undefined behaviour in the unsafe code (the
# SIMD kernels, the copy helper, the arena casts): tests/miri.sh [quick|full]
#   quick  the unit tests and the per-operator kernel tests (the test command runs this)
#   full   also every kernel variant against the reference, and a second pass compiled
#          with AVX2 so that the x86_64 kernels run in the interpreter too
# Needs the nightly toolchain; installs its `miri` component.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
rustup +nightly component add miri rust-src >/dev/null 2>&1
# The property tests keep their failure files on disk.
export MIRIFLAGS="-Zmiri-disable-isolation"
quick=(--lib --test kernels --test kernels_int8 --test opset)
case "$mode" in
    quick) cargo +nightly miri test --quiet -p whittle-runtime "${quick[@]}" ;;
    full)
        cargo +nightly miri test -p whittle-runtime
        RUSTFLAGS="-C target-feature=+avx2" cargo +nightly miri test -p whittle-runtime \
            --target-dir target/miri-avx2 --test kernels_exact
        ;;
    *) echo "usage: tests/miri.sh [quick|full]" >&2; exit 2 ;;
esac
