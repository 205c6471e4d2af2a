#!/usr/bin/env bash
# Installs the Debian 12 packages that maskeval needs to build and test (only the missing ones).
# MASKEVAL_OPENCV=OFF skips OpenCV (about 140 shared libraries), which the tool can do without;
# MASKEVAL_CHROMIUM=OFF skips Chromium, which only the test of the HTML report uses;
# MASKEVAL_SLURM=OFF skips Slurm and munge, which only the test of the Slurm scripts uses.
set -euo pipefail

pkgs=(g++ cmake ninja-build libpng-dev zlib1g-dev libdeflate-dev libtiff-dev nlohmann-json3-dev
      libcli11-dev libgtest-dev libbenchmark-dev jq)
if [ "${MASKEVAL_OPENCV:-AUTO}" != "OFF" ]; then pkgs+=(libopencv-dev); fi
# Headless Chromium renders report.html in the tests; MASKEVAL_CHROMIUM=OFF skips it (that test
# is then skipped, and fails under CI=true).
if [ "${MASKEVAL_CHROMIUM:-ON}" != "OFF" ]; then pkgs+=(chromium); fi
# A one-node Slurm cluster (slurmctld, slurmd, munged) runs the scripts/slurm/ job array in the
# tests; MASKEVAL_SLURM=OFF skips it (that test is then skipped, and fails under CI=true).
if [ "${MASKEVAL_SLURM:-ON}" != "OFF" ]; then pkgs+=(slurm-wlm munge); fi

if ! command -v dpkg-query >/dev/null; then
  echo "setup: not a Debian system; install the equivalents of: ${pkgs[*]}" >&2
  exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
