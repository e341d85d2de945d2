#!/usr/bin/env bash
# ONNX Runtime and NumPy for the tests that run exported models (host/tests/export.rs), in a
# venv under .cache/. Pinned like tests/bench/compare-runtimes.sh; quick when already there.
# Prints the venv's python on the last line.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$repo/.cache/ort-venv
pip_pins=(onnxruntime==1.31.1 numpy==2.4.6)

want="${pip_pins[*]}"
stamp=$venv/.pins
if [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]] \
    && "$venv/bin/python" -c 'import onnxruntime, numpy' 2>/dev/null; then
    echo "$venv/bin/python"
    exit 0
fi
echo "setup-onnxruntime: installing $want into $venv" >&2
# Debian ships venv's pip bootstrap in its own package.
if ! python3 -c 'import ensurepip' 2>/dev/null; then
    install=(apt-get install -y -qq --no-install-recommends python3-venv)
    [ "$(id -u)" -eq 0 ] || install=(sudo "${install[@]}")
    "${install[@]}" >/dev/null || { apt-get update -qq && "${install[@]}" >/dev/null; }
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pip_pins[@]}"
echo "$want" >"$stamp"
echo "$venv/bin/python"
