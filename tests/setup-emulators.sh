#!/usr/bin/env bash
# Installs what the on-device tests need: QEMU for the emulated boards (Cortex-M, RISC-V) and
# user-mode QEMU with the Debian cross toolchain for the ARM64 gateway. On Debian 12 QEMU comes
# from bookworm-backports (its qemu-utils 10 conflicts with bookworm's QEMU 7.2); elsewhere the
# plain package names are used. Does nothing when everything is present.
set -euo pipefail

needed=(qemu-system-arm qemu-system-riscv32 qemu-aarch64 aarch64-linux-gnu-gcc)
missing=()
for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || missing+=(libc6-dev-arm64-cross)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "   installing emulators and cross tools (missing: ${missing[*]})"

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
packages=(qemu-system-arm qemu-system-misc qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
release=""
[ -r /etc/os-release ] && release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$release" = "bookworm" ]; then
    list=/etc/apt/sources.list.d/bookworm-backports.sources
    if [ ! -e "$list" ]; then
        uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
        uri=${uri:-http://deb.debian.org/debian}
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$uri" | "${sudo[@]}" tee "$list" >/dev/null
    fi
    "${sudo[@]}" apt-get update -qq
    # The backports QEMU packages split RISC-V out of qemu-system-misc.
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends -t bookworm-backports \
        qemu-system-arm qemu-system-riscv qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
        >/dev/null
else
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
for tool in "${needed[@]}"; do
    command -v "$tool" >/dev/null || { echo "error: $tool is still missing" >&2; exit 1; }
done
