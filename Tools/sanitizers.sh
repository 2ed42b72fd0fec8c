#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and under ThreadSanitizer (debug builds, each in a
# build folder of its own: .build-asan, .build-tsan). Usage:
#   bash Tools/sanitizers.sh [address] [thread]      # default: both
# Also reachable as `bash Tools/test.sh --sanitizers`. Not part of CI's default run: a full
# ThreadSanitizer pass takes several times the normal suite. Docs/Reliability.md has results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)
# OpenBLAS and libjpeg/libpng are not instrumented; ASan's leak check would report their
# one-time allocations (thread pools, buffers kept for reuse) at exit, so it is off here and
# leaks are left to the soak benchmark (Docs/Reliability.md).
asan_options="detect_leaks=0:halt_on_error=1:abort_on_error=1"
tsan_options="halt_on_error=1:second_deadlock_stack=1"
status=0
for sanitizer in "${sanitizers[@]}"; do
    case "$sanitizer" in
        address) scratch=.build-asan ;;
        thread) scratch=.build-tsan ;;
        *) echo "unknown sanitizer '$sanitizer' (address or thread)" >&2; exit 2 ;;
    esac
    echo "== $sanitizer sanitizer ($scratch)"
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
    if ! ASAN_OPTIONS="$asan_options" TSAN_OPTIONS="$tsan_options" \
        swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --disable-swift-testing 2>&1 \
        | tee "$scratch/sanitizer-test.log" | grep -E "Executed [0-9]+ tests|ERROR: |WARNING: ThreadSanitizer|SUMMARY: "; then
        :
    fi
    if grep -qE "ERROR: AddressSanitizer|WARNING: ThreadSanitizer|with [1-9][0-9]* failures?" "$scratch/sanitizer-test.log"; then
        echo "== $sanitizer sanitizer: FINDINGS (see $scratch/sanitizer-test.log)"
        status=1
    else
        echo "== $sanitizer sanitizer: clean"
    fi
done
exit "$status"
