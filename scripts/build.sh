#!/usr/bin/env bash
# Configures and builds maskeval. Environment: BUILD_DIR (default build), MASKEVAL_CUDA
# (AUTO|ON|OFF, default AUTO), MASKEVAL_OPENCV (AUTO|ON|OFF), CMAKE_ARGS (more arguments).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DMASKEVAL_CUDA="${MASKEVAL_CUDA:-AUTO}" -DMASKEVAL_OPENCV="${MASKEVAL_OPENCV:-AUTO}" \
    ${CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
