#!/usr/bin/env bash
# Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the project's own
# example and fixtures: artifacts for several targets, float and int8, with and without
# validation vectors, one with sparse weights; the example's data files; its ONNX model and
# the ONNX conformance models the test setup downloads; a signed bundle.
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=tests/fuzz/corpus
mkdir -p "$corpus"/{load_invoke,npz,onnx_import,bundle_verify}
cargo build --quiet -p whittle
whittle=target/debug/whittle
model=examples/gesture/gesture.onnx
data=examples/gesture/data

for target in generic cortex-m4f cortex-m0plus riscv32imac x86_64-avx2; do
    $whittle compile "$model" --target "$target" -o "$corpus/load_invoke/gesture-$target.wtl" >/dev/null
    $whittle compile "$model" --target "$target" --quantize int8 --calib "$data/train.npz" \
        --calib-samples 64 -o "$corpus/load_invoke/gesture-int8-$target.wtl" >/dev/null
done
$whittle compile "$model" --target cortex-m4f --quantize int8 --calib "$data/train.npz" \
    --calib-samples 64 --io int8 --embed-validation 2 --validation-data "$data/val.npz" \
    -o "$corpus/load_invoke/gesture-int8-io-vectors.wtl" >/dev/null
$whittle compile "$model" --target cortex-m4f --embed-validation 2 \
    --validation-data "$data/val.npz" -o "$corpus/load_invoke/gesture-vectors.wtl" >/dev/null
# int8 with sparse weights: a magnitude-pruned copy of the model.
sparse=$(mktemp -d)
$whittle prune "$model" -o "$sparse/sparse.onnx" --sparsity 0.9 --global >/dev/null
$whittle compile "$sparse/sparse.onnx" --target cortex-m4f --quantize int8 --calib "$data/train.npz" \
    --calib-samples 64 -o "$corpus/load_invoke/gesture-int8-sparse.wtl" >/dev/null
rm -rf "$sparse"
cp tests/fixtures/*.wtl "$corpus/load_invoke/"

cp examples/gesture/sample.npy "$data/edge.npz" "$corpus/npz/"

cp "$model" "$corpus/onnx_import/"
# Small conformance models (present once the test setup has fetched them).
if [ -d .cache/onnx-1.17.0 ]; then
    find .cache/onnx-1.17.0 -name model.onnx -size -4k | sort | while read -r file; do
        name=$(basename "$(dirname "$file")")
        cp "$file" "$corpus/onnx_import/$name.onnx"
    done
fi

keys=$(mktemp -d)
trap 'rm -rf "$keys"' EXIT
$whittle keygen --out "$keys" >/dev/null
$whittle bundle --artifact "$corpus/load_invoke/gesture-int8-io-vectors.wtl" --sign "$keys/whittle.key" \
    -o "$corpus/bundle_verify/gesture.wbundle" >/dev/null
for target in load_invoke npz onnx_import bundle_verify; do
    echo "$target: $(ls "$corpus/$target" | wc -l) seed(s)"
done
