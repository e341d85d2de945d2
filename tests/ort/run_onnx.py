"""Runs an ONNX model in ONNX Runtime on every sample of a .npy file and writes the outputs.

    python run_onnx.py MODEL.onnx INPUTS.npy OUTPUTS.npz

INPUTS holds samples stacked along a leading axis; each sample is reshaped to the model's
(single) input shape and cast to its element type. OUTPUTS gets one array per model output,
named as the output, samples stacked along a leading axis. One thread, default graph
optimizations (QDQ groups are fused into ONNX Runtime's integer kernels).
"""

import sys

import numpy as np
import onnxruntime as ort

TYPES = {"tensor(float)": np.float32, "tensor(int8)": np.int8}


def main(model, inputs, outputs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    shape = [d if isinstance(d, int) else 1 for d in inp.shape]
    x = np.load(inputs).astype(TYPES[inp.type])
    names = [o.name for o in session.get_outputs()]
    results = {n: [] for n in names}
    for sample in x:
        for n, y in zip(names, session.run(names, {inp.name: sample.reshape(shape)})):
            results[n].append(y)
    np.savez(outputs, **{n: np.stack(v) for n, v in results.items()})
    print(f"ran {len(x)} samples through {model} in ONNX Runtime {ort.__version__}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
