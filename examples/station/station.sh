#!/usr/bin/env bash
# A factory station, offline: verify a release bundle, unpack it, flash the device firmware,
# read the device's own pass/fail, and append one JSON line to the station log.
#
#   station.sh BUNDLE PUBLIC_KEY [LOG]
#
# BUNDLE      the .wbundle from `whittle bundle`
# PUBLIC_KEY  the release key's public half (`whittle keygen`), installed on the station
# LOG         the station log (default station.log); one JSON object per line
#
# Environment:
#   WHITTLE          the whittle binary (default: whittle on PATH)
#   STATION_TARGET   the target profile this station flashes (default cortex-m4f)
#   STATION_WORK     where bundles are unpacked (default: a temporary directory, removed after)
#   FLASHER          flashes an ELF and runs the device, printing its output and a "pin:" line,
#                    exiting with the device's status (default: flash-qemu.sh next to this file)
#
# Exit status: 0 the device passed; 1 the device failed its self-test; 2 the bundle was
# rejected (not verified: nothing was flashed); 3 the station itself failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bundle=${1:?usage: station.sh BUNDLE PUBLIC_KEY [LOG]}
key=${2:?usage: station.sh BUNDLE PUBLIC_KEY [LOG]}
log=${3:-station.log}
whittle=${WHITTLE:-whittle}
target=${STATION_TARGET:-cortex-m4f}
flasher=${FLASHER:-$here/flash-qemu.sh}

json_string() { # a JSON string literal of $1
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    s=${s//$'\r'/}
    printf '"%s"' "$s"
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
bundle_sha=$(sha256sum "$bundle" 2>/dev/null | cut -d' ' -f1)
record() { # result stage exit_status detail verdict pin layer_index layer_name
    local layer=null
    [ -n "${7:-}" ] && layer="{\"index\": $7, \"name\": $(json_string "$8")}"
    printf '{"time": %s, "station": %s, "bundle": %s, "bundle_sha256": %s, "target": %s, "result": %s, "stage": %s, "exit_status": %s, "detail": %s, "device_verdict": %s, "pin": %s, "diverging_layer": %s}\n' \
        "$(json_string "$started")" "$(json_string "${HOSTNAME:-$(uname -n)}")" "$(json_string "$bundle")" \
        "$(json_string "$bundle_sha")" "$(json_string "$target")" "$(json_string "$1")" \
        "$(json_string "$2")" "$3" "$(json_string "$4")" "$(json_string "$5")" \
        "$(json_string "$6")" "$layer" >>"$log"
    echo "station: $1 ($2) -> $log"
}

# 1. Verify: signature, hashes, files, versions, target. Nothing is flashed unless it passes.
verify_out=$("$whittle" verify "$bundle" --key "$key" --target "$target" 2>&1)
verify_status=$?
echo "$verify_out"
if [ $verify_status -ne 0 ]; then
    record rejected verify $verify_status "$(echo "$verify_out" | tail -n 1)" "" "" ""
    exit 2
fi

# 2. Unpack: the firmware images a flasher takes.
work=${STATION_WORK:-}
if [ -z "$work" ]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
unpacked="$work/$(basename "$bundle" .wbundle)"
rm -rf "$unpacked"
if ! "$whittle" unpack "$bundle" --key "$key" --target "$target" -o "$unpacked"; then
    record error unpack 3 "unpack failed" "" "" ""
    exit 3
fi
elf=$(sed -n 's/^ *"elf": "\(.*\)",$/\1/p' "$unpacked/images.json" | head -n 1)
if [ -z "$elf" ]; then
    record error unpack 3 "the bundle holds no firmware for $target" "" "" ""
    exit 3
fi

# 3. Flash and boot: the device checks its model (CRC-32, SHA-256) and runs the validation
#    vectors the compiler embedded; it prints one verdict line and drives the pass/fail pin.
device_out=$("$flasher" "$elf" 2>&1)
device_status=$?
echo "$device_out"
verdict=$(echo "$device_out" | grep '^self-test: ' | tail -n 1)
pin=$(echo "$device_out" | sed -n 's/^pin: //p' | tail -n 1)
layer_index=$(echo "$verdict" | sed -n "s/.* layer=\([0-9]*\) .*/\1/p")
layer_name=$(echo "$verdict" | sed -n "s/.* layer=[0-9]* '\([^']*\)'.*/\1/p")

# 4. The verdict: the device's exit status, its verdict line and the pin must all agree.
if [ $device_status -eq 0 ] && [[ $verdict == "self-test: PASS"* ]] && [ "$pin" = high ]; then
    record pass device 0 "device self-test passed" "$verdict" "$pin" "" ""
    exit 0
fi
detail="device exit status $device_status"
[ -z "$verdict" ] && detail="$detail, no verdict line"
record fail device "$device_status" "$detail" "$verdict" "${pin:-unknown}" "$layer_index" "$layer_name"
exit 1
