#!/usr/bin/env bash
# Shared by Tools/onnx/generate.sh and Tools/tensorboard/generate.sh: makes sure Debian's protoc
# is installed (as root or through sudo) and builds protoc-gen-swift from the swift-protobuf
# version Package.swift pins, so generated code matches the runtime it is compiled against.
# Sourced from the package root; sets $plugin to the plugin's path.
if ! command -v protoc >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
fi
swift package resolve
(cd .build/checkouts/swift-protobuf && swift build -c release --product protoc-gen-swift)
plugin="$(cd .build/checkouts/swift-protobuf && swift build -c release --show-bin-path)/protoc-gen-swift"
