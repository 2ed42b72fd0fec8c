#!/usr/bin/env bash
# The test command of the README and of CI: installs missing system packages, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh
swift build --build-tests
swift test --skip-build
