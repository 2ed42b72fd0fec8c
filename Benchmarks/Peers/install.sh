#!/usr/bin/env bash
# Creates Benchmarks/Peers/.venv with the PyTorch peers' packages (numpy, torch, pillow from PyPI;
# a few GB, CUDA libraries included and unused). `pix2pix-benchmark --compare-torch` uses this
# environment when it exists; PEER_PYTHON names another interpreter.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet numpy torch pillow
.venv/bin/python -c 'import torch; print("torch", torch.__version__)'
