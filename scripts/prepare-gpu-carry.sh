#!/usr/bin/env bash
# Before sending the checkout to a GPU machine that cannot install packages: copies the
# header-only dependencies into .deps/include and the PyTorch peer into .peer/ (both ignored by
# git), so that scripts/gpu-check.sh can build and compare there.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deps/include .peer
cp -r /usr/include/nlohmann /usr/include/CLI .deps/include/
if [ -d ../shared/bench ]; then cp ../shared/bench/torch_peer.py .peer/; fi
du -sh .deps .peer
