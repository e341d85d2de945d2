#!/usr/bin/env bash
# The emulated fixture: "flashes" a Cortex-M4F firmware ELF into QEMU's mps2-an386 board, lets
# it boot and run its self-test, and reports what a real fixture would read.
#
#   flash-qemu.sh FIRMWARE.elf
#
# Prints the firmware's own output (semihosting, the stand-in for its UART), then one line
#   pin: high|low|unknown
# for the pass/fail pin (LED0 of the board's FPGA I/O, read from QEMU's trace of that register),
# and exits with the firmware's exit status (0 pass, 1 fail, 101 panic; 124 when it hangs).
# On a real line this script is replaced by the flasher, e.g.
#   probe-rs run --chip <your chip> FIRMWARE.elf
# plus the fixture's reading of the pin.
set -uo pipefail
elf=${1:?usage: flash-qemu.sh FIRMWARE.elf}
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
timeout "${STATION_TIMEOUT:-120}" qemu-system-arm -machine mps2-an386 -nographic \
    -semihosting-config enable=on,target=native -icount shift=0 \
    -trace "mps2_fpgaio_write,file=$trace" -kernel "$elf" </dev/null
status=$?
# The LED register is at offset 0 of the FPGA I/O block; bit 0 is LED0, the pass/fail line.
last=$(grep -o 'offset 0x0 data 0x[0-9a-f]*' "$trace" | tail -n 1 | sed 's/.*data //')
if [ -z "$last" ]; then
    echo "pin: unknown"
elif (( last & 1 )); then
    echo "pin: high"
else
    echo "pin: low"
fi
exit "$status"
