#!/usr/bin/env bash
# Trains our CycleGAN and its PyTorch twin (torch_cyclegan_twin.py) on the same synthetic
# unpaired maps at the demo's scale, for each seed, scores both with the same code
# (`maps cyclegan evaluate`; the twin's translations through `--predictions`), and checks the
# harness: our trained generators loaded into the twin must reproduce our own metrics.
#
#   bash Tools/cyclegan/compare-with-twin.sh [WORK_DIR] [SEEDS...]     (default: /tmp/cyclegan-twin 0 1 2)
#
# Needs a release build of `maps` (swift build -c release --product maps) and a Python with
# torch, numpy and pillow (PYTHON, default Benchmarks/Peers/.venv/bin/python: bash
# Benchmarks/Peers/install.sh makes it). Prints one JSON line per run and writes them to
# WORK_DIR/results.jsonl. About 10 minutes per seed on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-/tmp/cyclegan-twin}
shift || true
SEEDS=${*:-0 1 2}
PYTHON=${PYTHON:-Benchmarks/Peers/.venv/bin/python}
MAPS=${MAPS:-.build/release/maps}
ARCH=(--image-size 64 --ngf 32 --ndf 32)
mkdir -p "$WORK"
if [ ! -d "$WORK/unpaired/trainB" ]; then
    "$MAPS" synthesize --output "$WORK/paired" --count 100 --val-count 24 --seed 1
    "$MAPS" cyclegan split --data "$WORK/paired" --output "$WORK/unpaired" --image-size 64
fi
: > "$WORK/results.jsonl"
record() { echo "$1" | tee -a "$WORK/results.jsonl"; }
for seed in $SEEDS; do
    ours="$WORK/ours-$seed" twin="$WORK/twin-$seed" harness="$WORK/harness-$seed"
    [ -f "$ours/metrics.json" ] || "$MAPS" cyclegan train --data "$WORK/unpaired" --output "$ours" "${ARCH[@]}" \
        --blocks 9 --disc-layers 3 --epochs 10 --decay-epochs 10 --seed "$seed" --no-tensorboard
    record "{\"run\": \"ours\", \"seed\": $seed, \"metrics\": $("$MAPS" cyclegan evaluate --checkpoint "$ours" --json)}"
    [ -d "$twin/AtoB" ] || "$PYTHON" Tools/cyclegan/torch_cyclegan_twin.py --data "$WORK/unpaired" --output "$twin" \
        "${ARCH[@]}" --blocks 9 --disc-layers 3 --epochs 10 --decay-epochs 10 --seed "$seed" --threads 2
    record "{\"run\": \"twin\", \"seed\": $seed, \"metrics\": $("$MAPS" cyclegan evaluate --predictions "$twin" --data "$WORK/unpaired" --json)}"
    "$PYTHON" Tools/cyclegan/torch_cyclegan_twin.py --translate-ours "$ours" --data "$WORK/unpaired" \
        --output "$harness" --image-size 64 --ngf 32 --blocks 9
    record "{\"run\": \"ours in the twin\", \"seed\": $seed, \"metrics\": $("$MAPS" cyclegan evaluate --predictions "$harness" --data "$WORK/unpaired" --json)}"
done
