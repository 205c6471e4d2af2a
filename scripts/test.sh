#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (GPU tests skip
# themselves where there is no GPU). Same environment variables as scripts/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
