#!/usr/bin/env bash
# Downloads the onnx==1.17.0 wheel from PyPI (once) and extracts its operator ("node") test
# cases into .cache/onnx-1.17.0/node. Idempotent: does nothing when the cache is complete.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
version=1.17.0
cache="$root/.cache/onnx-$version"
if [ -f "$cache/node/.complete" ]; then
    exit 0
fi
mkdir -p "$cache/wheel"
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    "onnx==$version" -d "$cache/wheel"
wheel=$(ls "$cache"/wheel/onnx-"$version"-*.whl | head -n 1)
python3 - "$wheel" "$cache/node" <<'PY'
import sys, zipfile, pathlib
wheel, dest = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "onnx/backend/test/data/node/"
count = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = dest / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
            count += 1
if count == 0:
    sys.exit(f"{wheel} holds no node tests")
(dest / ".complete").write_text(f"{count} files\n")
print(f"extracted {count} files of ONNX node tests to {dest}")
PY
