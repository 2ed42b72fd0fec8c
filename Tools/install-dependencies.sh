#!/usr/bin/env bash
# Installs the Debian packages this package links against, if any is missing.
# Idempotent; needs root (or sudo) only when something must be installed.
set -euo pipefail
packages=(libopenblas-dev liblapacke-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev libhdf5-dev libopenmpi-dev openmpi-bin iproute2 pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
