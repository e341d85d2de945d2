#!/usr/bin/env bash
# A factory release end to end on the emulated Cortex-M4F board.
#
# Release side: the gesture model's release gate (int8, 8 validation vectors embedded for the
# device's self-test), the firmware built around it, a signing key, and the signed bundle.
# Station side (offline): station.sh verifies the bundle, unpacks it, flashes the firmware into
# QEMU, reads the device's verdict and pass/fail pin, and logs one JSON line.
#
# Environment: WHITTLE (the whittle binary; default: built here), STATION_DEMO_DIR (default
# target/station-demo). Needs qemu-system-arm and the thumbv7em-none-eabihf Rust target
# (tests/setup-emulators.sh, rustup target add thumbv7em-none-eabihf).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${STATION_DEMO_DIR:-$root/target/station-demo}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -z "${WHITTLE:-}" ]; then
    cargo build --quiet -p whittle
    WHITTLE=$root/target/debug/whittle
fi
export WHITTLE

echo "== release: the gate, with validation vectors embedded"
"$WHITTLE" pipeline examples/gesture/pipeline.toml --report-dir "$out/reports" | sed -n '1p;3p'
artifact=$out/gesture-int8.wtl
cp target/pipeline/gesture-int8.wtl "$artifact"
arena=$("$WHITTLE" inspect "$artifact" --json | sed -n 's/^ *"arena_bytes": \([0-9]*\),$/\1/p')

echo "== release: the Cortex-M4F firmware around the model"
# The firmware also classifies the eight recorded gestures: their raw float32 samples, the
# data part of sample.npy (8 x 3 x 64 values after the .npy header).
tail -c $((8 * 3 * 64 * 4)) examples/gesture/sample.npy >"$out/inputs.bin"
(cd examples/firmware-m4f &&
    WHITTLE_MODEL=$artifact WHITTLE_INPUTS=$out/inputs.bin WHITTLE_ARENA=$arena \
        CARGO_TARGET_DIR=$out/firmware-build cargo build --quiet --release)
cp "$out/firmware-build/thumbv7em-none-eabihf/release/firmware-m4f" "$out/gesture-m4f.elf"

echo "== release: key and signed bundle"
[ -f "$out/keys/whittle.key" ] || "$WHITTLE" keygen --out "$out/keys"
"$WHITTLE" bundle --artifact "$artifact" --firmware "$out/gesture-m4f.elf" \
    --report "$out/reports/report.json" --sign "$out/keys/whittle.key" -o "$out/release.wbundle"

echo "== station: verify, unpack, flash, self-test, log"
rm -f "$out/station.log"
status=0
STATION_WORK=$out/station examples/station/station.sh "$out/release.wbundle" \
    "$out/keys/whittle.pub" "$out/station.log" | grep -E '^(OK|self-test|pin|station)' || status=$?
cat "$out/station.log"
exit "$status"
