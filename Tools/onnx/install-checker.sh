#!/usr/bin/env bash
# Creates .build/onnx-venv with the packages of Tools/onnx/requirements.txt (numpy, onnx, tensorboard,
# onnxruntime from PyPI), which Tools/onnx/check_onnx.py, the ONNX tests and the TensorBoard tests use. Idempotent:
# does nothing when the environment already has them. Tools/test.sh runs it.
# Where `python3 -m venv` is unavailable, the packages go to .build/onnx-site instead and
# .build/onnx-venv/bin/python is a wrapper that puts them on the path.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.build/onnx-venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import numpy, onnx, onnxruntime, tensorboard" 2>/dev/null; then exit 0; fi
mkdir -p .build
rm -rf "$venv"
if python3 -m venv "$venv" 2>/dev/null && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r Tools/onnx/requirements.txt
else
    rm -rf "$venv" .build/onnx-site
    python3 -m pip install --quiet --disable-pip-version-check --target .build/onnx-site -r Tools/onnx/requirements.txt
    mkdir -p "$venv/bin"
    printf '#!/usr/bin/env bash\nPYTHONPATH="%s${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$@"\n' "$PWD/.build/onnx-site" \
        >"$venv/bin/python"
    chmod +x "$venv/bin/python"
fi
"$venv/bin/python" -c "import onnx, onnxruntime, tensorboard; print('onnx', onnx.__version__, 'onnxruntime', onnxruntime.__version__, 'tensorboard', tensorboard.__version__)"
