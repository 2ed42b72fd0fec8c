#!/usr/bin/env bash
# The test command of the README and of CI: installs missing system packages and the ONNX
# checker's Python environment (.build/onnx-venv: numpy, onnx, onnxruntime from PyPI), checks
# the formatting (swift-format, Tools/format.sh --check), builds, tests.
# Ends with one plain summary line, "N passed, N failed[, N skipped]", taken from XCTest's.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitizers" ]; then
    shift
    exec bash Tools/sanitizers.sh "$@"   # opt-in: the suite under ASan and TSan
fi
bash Tools/install-dependencies.sh
bash Tools/onnx/install-checker.sh
export ONNX_PYTHON="$PWD/.build/onnx-venv/bin/python"
bash Tools/format.sh --check
swift build --build-tests
log=$(mktemp)
set +e
swift test --skip-build --disable-swift-testing 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E "Executed [0-9]+ tests?, with" "$log" | tail -1)
rm -f "$log"
if [ -z "$summary" ]; then
    echo "no XCTest summary found" >&2
    exit 1
fi
executed=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=0
if grep -q "skipped" <<<"$summary"; then skipped=$(sed -E 's/.*with ([0-9]+) tests? skipped.*/\1/' <<<"$summary"); fi
echo "$((executed - failed - skipped)) passed, $failed failed, $skipped skipped"
exit "$status"
