#!/usr/bin/env bash
# The README's first command: installs missing system packages, builds the maps example in
# release mode and runs it. With no arguments it is the demo (synthesize → train → evaluate →
# report); any arguments are passed to `maps` (e.g. `bash Tools/maps-demo.sh train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash Tools/install-dependencies.sh
swift build -c release --product maps
exec .build/release/maps "$@"
