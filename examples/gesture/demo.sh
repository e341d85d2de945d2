#!/usr/bin/env bash
# The quick start: build whittle, check and compile the bundled gesture model, inspect the
# artifact, and classify eight recorded gestures through the runtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=target/demo
mkdir -p "$out"
cargo build --quiet -p whittle
whittle=target/debug/whittle

$whittle check examples/gesture/gesture.onnx | tail -n 1
$whittle compile examples/gesture/gesture.onnx --target cortex-m4f -o "$out/gesture.wtl"
$whittle inspect "$out/gesture.wtl"
$whittle run "$out/gesture.wtl" --input examples/gesture/sample.npy --output "$out/probs.npy" \
    --top 1 --labels examples/gesture/classes.txt
echo "  recorded: $(tr '\n' ' ' < examples/gesture/sample_labels.txt)"

# The same model quantized to int8 (calibrated on the training set), and both on the test set.
$whittle compile examples/gesture/gesture.onnx --target cortex-m4f --quantize int8 \
    --calib examples/gesture/data/train.npz -o "$out/gesture-int8.wtl"
echo "float: $($whittle eval "$out/gesture.wtl" --data examples/gesture/data/test.npz | head -n 1)"
echo "int8:  $($whittle eval "$out/gesture-int8.wtl" --data examples/gesture/data/test.npz | head -n 1)"

# The release gate: int8 measured against float on the validation set (per class, per
# segment, KL divergence, edge cases, flash and RAM), with JSON, Markdown and HTML reports.
$whittle pipeline examples/gesture/pipeline.toml --report-dir "$out/reports" | sed -n '1p;3p'
echo "  reports: $out/reports/report.html, summary.md, report.json"
