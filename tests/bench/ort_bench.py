#!/usr/bin/env python3
"""ONNX Runtime side of compare-runtimes.sh: times a float ONNX model and ONNX Runtime's own
static int8 quantization of it, one thread, batch 1, and prints one JSON object.

Both sessions run with intra_op_num_threads=1, inter_op_num_threads=1, sequential execution and
all graph optimizations; inputs and outputs are bound once (IOBinding) so that what is timed is
the inference, not Python's conversion of arrays. The batch dimension is fixed to 1 in the graph
first, as ONNX Runtime's own performance guide advises for a fixed-shape deployment.

int8: quantize_static, QDQ format, per-channel int8 weights, MinMax calibration on the given
samples. ONNX Runtime documents both activation types as first-class on x86 (u8 activations use
its VPMADDUBSW path); both are timed and the faster is reported as its int8 result.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process


def fix_batch(src, dst):
    """Writes `src` with every symbolic or unknown input dimension set to 1."""
    model = onnx.load(src)
    for value in list(model.graph.input) + list(model.graph.output):
        for dim in value.type.tensor_type.shape.dim:
            if dim.HasField("dim_param") or dim.dim_value <= 0:
                dim.Clear()
                dim.dim_value = 1
    # Stale intermediate shapes with a symbolic batch would contradict the fixed one.
    del model.graph.value_info[:]
    onnx.save(model, dst)


class Samples(CalibrationDataReader):
    """Feeds calibration samples one at a time, batch 1."""

    def __init__(self, name, samples):
        self.items = iter([{name: s[None, ...]} for s in samples])

    def get_next(self):
        return next(self.items, None)


def load_calibration(paths, key, dequant, count, shape):
    """Calibration samples as float32 [n, *shape]: .npy files, or an .npz array (`key`),
    dequantized with `scale,zero_point` when the data are int8."""
    out = []
    for path in paths:
        if path.endswith(".npz"):
            data = np.load(path)[key]
        else:
            data = np.load(path)
        if dequant:
            scale, zero_point = (float(v) for v in dequant.split(","))
            data = (data.astype(np.float32) - zero_point) * scale
        data = data.astype(np.float32).reshape((-1,) + tuple(shape))
        out.extend(data)
    if not out:
        sys.exit("ort_bench: no calibration samples")
    return np.stack(out[:count])


def session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def time_model(path, x, runs, warmup):
    """Median, p90, min and mean latency in microseconds, and the first output."""
    sess = session(path)
    binding = sess.io_binding()
    binding.bind_cpu_input(sess.get_inputs()[0].name, x)
    for out in sess.get_outputs():
        binding.bind_output(out.name, "cpu")
    for _ in range(warmup):
        sess.run_with_iobinding(binding)
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        sess.run_with_iobinding(binding)
        times.append((time.perf_counter_ns() - start) / 1e3)
    times.sort()
    return {
        "runs": runs,
        "median_us": statistics.median(times),
        "p90_us": times[max(0, -(-9 * runs // 10) - 1)],
        "min_us": times[0],
        "mean_us": statistics.fmean(times),
    }, binding.copy_outputs_to_cpu()[0]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="float ONNX model")
    p.add_argument("--input", required=True, help=".npy input; its first sample is timed")
    p.add_argument("--calib", action="append", default=[], help=".npy/.npz calibration data")
    p.add_argument("--calib-key", default="x")
    p.add_argument("--calib-dequant", help="scale,zero_point of integer calibration data")
    p.add_argument("--calib-count", type=int, default=32)
    p.add_argument("--workdir", required=True)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    a = p.parse_args()

    os.makedirs(a.workdir, exist_ok=True)
    base = os.path.join(a.workdir, os.path.basename(a.model)[: -len(".onnx")])
    fixed = base + ".b1.onnx"
    fix_batch(a.model, fixed)
    name = onnx.load(fixed).graph.input[0].name
    sess = session(fixed)
    shape = sess.get_inputs()[0].shape[1:]
    x = np.load(a.input).astype(np.float32).reshape([-1] + shape)[:1]
    calib = load_calibration(a.calib or [a.input], a.calib_key, a.calib_dequant, a.calib_count, shape)

    pre = base + ".pre.onnx"
    try:
        quant_pre_process(fixed, pre, skip_symbolic_shape=True)
    except Exception as e:  # the optimizer pass is optional: quantize the fixed model then
        print(f"ort_bench: pre-processing skipped: {e}", file=sys.stderr)
        pre = fixed

    result = {"ort_version": ort.__version__, "calibration_samples": len(calib)}
    result["f32"], reference = time_model(fixed, x, a.runs, a.warmup)
    best = None
    for label, activation in (("u8s8", QuantType.QUInt8), ("s8s8", QuantType.QInt8)):
        out = f"{base}.int8-{label}.onnx"
        quantize_static(
            pre,
            out,
            Samples(name, calib),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=activation,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )
        timing, output = time_model(out, x, a.runs, a.warmup)
        timing["max_abs_diff_vs_f32"] = float(np.max(np.abs(output - reference)))
        result["int8_" + label] = timing
        if best is None or timing["median_us"] < result[best]["median_us"]:
            best = "int8_" + label
    result["int8"] = dict(result[best], variant=best)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
