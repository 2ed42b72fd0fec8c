#!/usr/bin/env bash
# Creates .build/onnx-venv with the packages of Tools/onnx/requirements.txt (numpy, onnx,
# onnxruntime from PyPI), which Tools/onnx/check_onnx.py and the ONNX tests use. Idempotent:
# does nothing when the environment already has them. Tools/test.sh runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/onnx-venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import numpy, onnx, onnxruntime" 2>/dev/null; then exit 0; fi
mkdir -p .build
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r Tools/onnx/requirements.txt
"$venv/bin/python" -c "import onnx, onnxruntime; print('onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__)"
