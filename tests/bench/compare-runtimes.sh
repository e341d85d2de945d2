#!/usr/bin/env bash
# Latency of whittle (int8 and f32), tract (f32) and ONNX Runtime (f32 and its own static int8
# quantization) on the MLPerf Tiny models, one thread, batch 1, the same input for all, in one
# run; prints a markdown table with the ratios.
#
#   tests/bench/compare-runtimes.sh            # all four models
#   RUNS=50 tests/bench/compare-runtimes.sh kws  # fewer runs, one model (kws, resnet8, vww, ad)
#   STAT=min tests/bench/compare-runtimes.sh     # best of the runs instead of the median
#
# Needs the reference models and inputs in ../shared/data (override: WHITTLE_SHARED_DATA).
# WHITTLE_BIN=path/to/whittle uses that binary instead of building one.
# Installs onnxruntime into a venv under .cache/ and builds whittle in release mode into its own
# target directory (target/compare), so it neither waits for nor disturbs builds in target/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data=${WHITTLE_SHARED_DATA:-$repo/../shared/data}
runs=${RUNS:-100}
# Which statistic the table shows: median, or min (best of the runs: steadier on a busy machine).
stat=${STAT:-median}
[[ $stat == median || $stat == min ]] || { echo "compare-runtimes: STAT is median or min" >&2; exit 2; }
warmup=${WARMUP:-10}
venv=$repo/.cache/bench-venv
work=$repo/target/compare/bench
# Pinned so that a table can be reproduced; bump together and rerun.
pip_pins=(onnxruntime==1.31.1 onnx==1.23.2 numpy==2.4.6)

# name | float model | int8 model (each with its input in testdata/<model>/test_data_set_0/)
all_models=(
  "kws|kws_ref_model_float32|kws_ref_model"
  "resnet8|pretrainedResnet|pretrainedResnet_quant"
  "vww|vww_96_float|vww_96_int8"
  "ad|ad01_fp32|ad01_int8"
)
# Goals: whittle int8 <= this x ONNX Runtime's best; whittle f32 <= 1.0 x ONNX Runtime f32.
declare -A int8_goal=([kws]=0.5 [resnet8]=0.5 [vww]=0.5 [ad]=0.7)

die() { echo "compare-runtimes: $*" >&2; exit 2; }

selected=()
for entry in "${all_models[@]}"; do
  name=${entry%%|*}
  if [[ $# -eq 0 ]] || [[ " $* " == *" $name "* ]]; then selected+=("$entry"); fi
done
[[ ${#selected[@]} -gt 0 ]] || die "no model named '$*' (kws, resnet8, vww, ad)"

# Everything the run reads from the shared data, checked before anything slow starts.
missing=()
[[ -d $data ]] || die "shared data not found at $data (set WHITTLE_SHARED_DATA to the folder \
holding models/, testdata/ and kws_dev.npz)"
for entry in "${selected[@]}"; do
  IFS='|' read -r name float int8 <<<"$entry"
  for f in "models/$float.onnx" "models/$int8.onnx" \
    "testdata/$float/test_data_set_0/input_0.npy" "testdata/$int8/test_data_set_0/input_0.npy"; do
    [[ -f $data/$f ]] || missing+=("$data/$f")
  done
done
if [[ " ${selected[*]} " == *" kws|"* ]] && [[ ! -f $data/kws_dev.npz ]]; then
  missing+=("$data/kws_dev.npz (KWS calibration samples)")
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  printf 'compare-runtimes: missing from the shared data:\n' >&2
  printf '  %s\n' "${missing[@]}" >&2
  exit 2
fi

if ! "$venv/bin/python" -c 'import onnxruntime, onnx, numpy' 2>/dev/null; then
  echo "compare-runtimes: installing ${pip_pins[*]} into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "${pip_pins[@]}"
fi
py=$venv/bin/python

if [[ -n ${WHITTLE_BIN:-} ]]; then
  whittle=$WHITTLE_BIN
else
  echo "compare-runtimes: building whittle (release) into target/compare" >&2
  cargo build --release --quiet -p whittle --manifest-path "$repo/Cargo.toml" \
    --target-dir "$repo/target/compare"
  whittle=$repo/target/compare/release/whittle
fi

# The x86 AVX2 profile when this build lists it (the host is x86_64), else the portable one.
target=generic
if "$whittle" targets | awk '{print $1}' | grep -qx x86_64-avx2; then target=x86_64-avx2; fi

mkdir -p "$work"
# latency FILE [SECTION]: the chosen statistic (us) of a bench report, or of one section of it.
latency() {
  "$py" -c 'import json, sys; d = json.load(open(sys.argv[2])); print((d[sys.argv[3]] if sys.argv[3:] else d)[sys.argv[1] + "_us"])' "$stat" "$@"
}

rows=()
for entry in "${selected[@]}"; do
  IFS='|' read -r name float int8 <<<"$entry"
  x_float=$data/testdata/$float/test_data_set_0/input_0.npy
  x_int8=$data/testdata/$int8/test_data_set_0/input_0.npy
  echo "compare-runtimes: $name" >&2

  "$whittle" compile "$data/models/$int8.onnx" --target "$target" -o "$work/$name-int8.wtl" >&2
  "$whittle" compile "$data/models/$float.onnx" --target "$target" -o "$work/$name-f32.wtl" >&2
  "$whittle" bench "$work/$name-int8.wtl" --input "$x_int8" --runs "$runs" --warmup "$warmup" \
    --json >"$work/$name-whittle-int8.json"
  "$whittle" bench "$work/$name-f32.wtl" --input "$x_float" --runs "$runs" --warmup "$warmup" \
    --json >"$work/$name-whittle-f32.json"
  "$whittle" bench --tract "$data/models/$float.onnx" --input "$x_float" --runs "$runs" \
    --warmup "$warmup" --json >"$work/$name-tract-f32.json"

  # Calibration: real KWS clips for KWS; the other models come with one real input each.
  calib=(--calib "$x_float")
  if [[ $name == kws ]]; then
    calib=(--calib "$data/kws_dev.npz" --calib-key x --calib-dequant 0.5847029,83)
  fi
  "$py" "$repo/tests/bench/ort_bench.py" "$data/models/$float.onnx" --input "$x_float" \
    "${calib[@]}" --workdir "$work/ort" --runs "$runs" --warmup "$warmup" \
    >"$work/$name-ort.json"

  rows+=("$name $(latency "$work/$name-whittle-int8.json") $(latency "$work/$name-whittle-f32.json") \
$(latency "$work/$name-tract-f32.json") $(latency "$work/$name-ort.json" f32) \
$(latency "$work/$name-ort.json" int8) ${int8_goal[$name]}")
done

kernels=$("$py" -c 'import json,sys; print(", ".join(sorted({o["kernel"] for f in sys.argv[1:] for o in json.load(open(f))["ops"]})))' "$work"/*-whittle-*.json)
echo
echo "${stat^} latency per inference in ms ($runs runs after $warmup warm-up; one thread, batch 1;"
echo "whittle target $target, kernels reported: $kernels; ONNX Runtime $("$py" -c 'import onnxruntime; print(onnxruntime.__version__)'))."
echo
printf '%s\n' "${rows[@]}" | awk '
  function ms(us) { return sprintf("%.3f", us / 1000) }
  function verdict(r, goal) { return sprintf("%.2f (goal <= %s: %s)", r, goal, r <= goal ? "met" : "missed") }
  BEGIN {
    print "| model | whittle int8 | whittle f32 | tract f32 | ORT f32 | ORT int8 | whittle int8 / best ORT | whittle f32 / ORT f32 |"
    print "|---|---:|---:|---:|---:|---:|---:|---:|"
  }
  {
    best = $5 < $6 ? $5 : $6
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, ms($2), ms($3), ms($4), ms($5), ms($6),
      verdict($2 / best, $7), verdict($3 / $5, "1.0")
  }'
echo
echo "Raw reports (per-operator times included): $work" >&2
