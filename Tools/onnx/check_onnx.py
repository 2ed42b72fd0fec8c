"""Checks an ONNX file the library exported against the library's own output.

Usage:  python3 check_onnx.py MODEL.onnx INPUTS.npz EXPECTED.npy [--tolerance 1e-4]

Runs onnx.checker (full check, with shape inference) on MODEL.onnx, then ONNX Runtime (CPU) on
the arrays of INPUTS.npz (each named after a graph input), and compares the first output with
EXPECTED.npy. Prints one JSON line: {"max_abs_diff": ..., "opset": ..., "ok": true|false};
exits 1 when the model is invalid or the difference exceeds the tolerance.
Tools/onnx/requirements.txt lists the packages (Tools/test.sh installs them in .build/onnx-venv).
"""
import argparse, json, sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("inputs")
    p.add_argument("expected")
    p.add_argument("--tolerance", type=float, default=1e-4)
    a = p.parse_args()
    model = onnx.load(a.model)
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    arrays = np.load(a.inputs)
    feeds = {i.name: arrays[i.name].astype(np.float32) for i in session.get_inputs()}
    output = session.run(None, feeds)[0]
    expected = np.load(a.expected)
    if output.shape != expected.shape:
        print(json.dumps({"ok": False, "error": f"output shape {output.shape} != expected {expected.shape}"}))
        sys.exit(1)
    diff = float(np.max(np.abs(output - expected))) if output.size else 0.0
    ok = diff <= a.tolerance
    print(json.dumps({"max_abs_diff": diff, "opset": model.opset_import[0].version, "ok": ok}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
