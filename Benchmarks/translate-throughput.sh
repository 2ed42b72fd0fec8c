#!/usr/bin/env bash
# Inference throughput: `maps translate` against a PyTorch script doing the same work
# (Benchmarks/Peers/torch_translate.py) on the same folder of 1200×600 maps-style JPEGs, in
# alternating rounds, as images per second.
#
#   bash Benchmarks/translate-throughput.sh [--images 12] [--rounds 3]
#
# The images come from `maps synthesize --tile-size 600` (the maps dataset's layout); the model
# is the seed's U-Net (ngf 64, depth 8) after one training step, translated in paper mode
# (dropout and batch statistics), each 600×600 source half resized to 768×768 and back, as
# `maps translate --side-by-side` does. The peer's interpreter is $PEER_PYTHON, else
# Benchmarks/Peers/.venv (made by Benchmarks/Peers/install.sh), else python3; it needs torch,
# numpy and pillow.
set -euo pipefail
cd "$(dirname "$0")/.."
images=12 rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --images) images="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        *) echo "usage: $0 [--images N] [--rounds N]" >&2; exit 2 ;;
    esac
done
python="${PEER_PYTHON:-}"
[ -n "$python" ] || { [ -x Benchmarks/Peers/.venv/bin/python ] && python=Benchmarks/Peers/.venv/bin/python; } || python=python3
swift build -c release --product maps >/dev/null
maps=.build/release/maps
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$maps" synthesize --output "$work/data" --count 2 --val-count "$images" --tile-size 600 >/dev/null
"$maps" train --data "$work/data" --output "$work/run" --steps 1 --sample-every 1000 >/dev/null 2>&1
grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /machine: /'
ours_all=() theirs_all=() ratios=()
for round in $(seq "$rounds"); do
    rm -rf "$work/ours" "$work/torch"
    ours=$("$maps" translate --checkpoint "$work/run" --input "$work/data/val" --output "$work/ours" --side-by-side 2>&1 \
        | sed -n 's/.*(\([0-9.]*\) images\/s).*/\1/p')
    theirs=$("$python" Benchmarks/Peers/torch_translate.py --input "$work/data/val" --output "$work/torch" \
        --threads "$(nproc)" --side-by-side --json 2>/dev/null | tail -1 \
        | "$python" -c 'import json, sys; print("%.4f" % json.load(sys.stdin)["images_per_second"])')
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
    echo "round $round: ours $ours images/s, PyTorch $theirs images/s, ratio $ratio"
    ours_all+=("$ours") theirs_all+=("$theirs") ratios+=("$ratio")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo "median over $rounds rounds of $images images: ours $(median "${ours_all[@]}") images/s," \
    "PyTorch $(median "${theirs_all[@]}") images/s, ratio $(median "${ratios[@]}")×"
