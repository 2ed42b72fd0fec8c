#!/usr/bin/env bash
# Fuzzes every reader of untrusted files (NPY, NPZ, safetensors, JPEG, PNG, PyTorch .pth, Keras .h5) with libFuzzer.
#   bash Fuzz/run.sh [RUNS]      (default 1,000,000 executions; crashes land in Fuzz/crashes/)
# A crash input is reproduced, without the fuzzer, by the ordinary build of the same target:
#   swift run fuzz-readers Fuzz/crashes/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1000000}"
# SwiftPM's default gold linker crashes on libFuzzer's objects; lld links them.
swift build -c release --scratch-path .build-fuzz --product fuzz-readers \
    -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DFUZZING \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
work=$(mktemp -d)
cp Fuzz/corpus/* "$work"/
mkdir -p Fuzz/crashes
.build-fuzz/release/fuzz-readers "$work" -runs="$runs" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix=Fuzz/crashes/ -print_final_stats=1
