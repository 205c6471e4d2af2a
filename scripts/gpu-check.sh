#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU (built for sm_90 by default): builds in
# Release, runs the whole test suite including the GPU tests (ctest label gpu), runs
# compute-sanitizer (memcheck and racecheck) over the GPU tests, runs the GPU benchmarks and,
# when .peer/torch_peer.py is there, the PyTorch peer. Logs and JSON go to $OUT (default
# gpu-check-out/, at most 8 files); a short table ends the output.
#
# Machines without package installs: put copies of the header-only nlohmann/json and CLI11
# in .deps/include first (scripts/prepare-gpu-carry.sh does it, with the peer), or pass
# PREBUILT=DIR to use a build made elsewhere.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check-out}"
mkdir -p "$out"
build="${PREBUILT:-${BUILD_DIR:-build-gpu}}"
arch="${CMAKE_CUDA_ARCHITECTURES:-90}"
summary="$out/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
run_step() {  # name, timeout, log, command...
  local name=$1 limit=$2 log=$3
  shift 3
  local t0=$SECONDS
  timeout "$limit" "$@" >>"$log" 2>&1
  local rc=$?
  note "$(printf '%-22s rc=%-3s %4ss  %s' "$name" "$rc" "$((SECONDS - t0))" "$(basename "$log")")"
  return $rc
}

note "gpu-check $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >>"$summary" 2>&1

if [ -z "${PREBUILT:-}" ]; then
  if [ ! -d /usr/include/nlohmann ] && [ ! -d .deps/include/nlohmann ]; then
    note "no nlohmann/json headers: run scripts/prepare-gpu-carry.sh where they are installed and carry .deps"
  fi
  run_step configure 300 "$out/build.log" cmake -S . -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DMASKEVAL_CUDA=ON -DMASKEVAL_OPENCV=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="$arch"
  run_step build 400 "$out/build.log" cmake --build "$build" -j "$(nproc)" || {
    tail -40 "$out/build.log"
    exit 1
  }
fi

run_step ctest 300 "$out/tests.log" ctest --test-dir "$build" --output-on-failure -j 8
grep -E "tests passed|tests failed|Label Time|gpu *=|cpu *=" "$out/tests.log" | tee -a "$summary"

sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
for tool in memcheck racecheck; do
  filter='CudaCount.*:CudaVote.*:CudaStaple.*:CudaMlStaple.*:CudaWrite.*:CudaEngine.*:CudaDistance.Transform*'
  [ "$tool" = racecheck ] && filter='CudaCount.EachCase*:CudaCount.ManySmall*'
  echo "== $tool" >>"$out/sanitizer.log"
  run_step "sanitizer-$tool" 200 "$out/sanitizer.log" "$sanitizer" --tool "$tool" \
    --error-exitcode 9 "$build/tests/test_cuda" --gtest_filter="$filter"
done
grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$out/sanitizer.log" | tee -a "$summary"

run_step bench 300 "$out/bench.txt" "$build/bench/maskeval_bench_cuda" \
  --benchmark_out="$out/bench.json" --benchmark_out_format=json

if [ -f .peer/torch_peer.py ]; then
  OUT="$out" run_step peer 200 "$out/peer.txt" python3 .peer/torch_peer.py
fi

python3 - "$out" <<'PY' | tee -a "$summary"
import json, os, sys
out = sys.argv[1]
try:
    bench = json.load(open(os.path.join(out, "bench.json")))["benchmarks"]
except Exception as e:
    print("no benchmark results:", e); sys.exit(0)
peer = {}
try:
    peer = json.load(open(os.path.join(out, "peer_anchor.json")))
except Exception:
    pass
print(f"{'benchmark':44s} {'ms':>9s} {'mask GB/s':>10s} {'/copy':>6s}")
for b in bench:
    if b.get("error_occurred"):
        print(f"{b['name']:44s} error: {b.get('error_message')}"); continue
    ms = b["real_time"] if b.get("time_unit") == "ms" else b["real_time"] / 1e6
    print(f"{b['name']:44s} {ms:9.3f} {b.get('mask_GBps', 0):10.1f} {b.get('ratio_to_copy', 0):6.2f}")
if peer:
    def ours(name):
        for b in bench:
            if b["name"].startswith(name) and not b.get("error_occurred"):
                return b["real_time"]
    for w, keys in (("W1", ("pairwise_confusion_ms", "majority_agreement_ms")),
                    ("W2", ("pairwise_dice_ms", "majority_ms"))):
        t = ours(f"agree_majority_kernels/{w}")
        p = sum(peer.get(w, {}).get(k, 0) for k in keys)
        if t and p:
            print(f"{w}: agree+majority {t:.3f} ms vs PyTorch {p:.1f} ms: {p / t:.0f}x "
                  f"(peer copy {peer.get('copy_TBps', 0):.2f} TB/s)")
    t = ours("staple_job/W2")
    p = peer.get("W2", {}).get("staple_20it_ms", 0)
    if t and p:
        print(f"W2: binary STAPLE {t:.3f} ms vs PyTorch 20-iteration EM {p:.1f} ms: {p / t:.0f}x")
PY
