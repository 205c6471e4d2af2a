#!/usr/bin/env bash
# The GPU check in one command: builds what the GPU run needs (or takes PREBUILT executables), runs
# the GPU tests, compute-sanitizer, the GPU benchmarks and the PyTorch peer, each step under its
# own time limit, and ends with the targets' table; it exits non-zero when any GPU test skipped or
# failed, a sanitizer reported anything, a step timed out, a required target was missed or not
# measured, or no device was found. docs/gpu-check.md describes it.
#
# Environment:
#   OUT=DIR          logs, benchmark JSON, results.json and summary.txt (default gpu-check-out/;
#                    at most 8 files)
#   PREBUILT=DIR     executables built elsewhere (scripts/prepare-gpu-carry.sh --prebuilt): no
#                    configure, build or ctest; test_cuda and the benchmarks run directly
#   BUILD_DIR=DIR    the build tree otherwise (default build-gpu)
#   CMAKE_CUDA_ARCHITECTURES   default 90
#   GPU_CHECK_LINK_SOURCE=0    PREBUILT only: never link the source path compiled into test_cuda
set -uo pipefail
caller_dir=$PWD
cd "$(dirname "$0")/.." || exit 2
repo=$PWD

# --- Time limit of each step, in seconds, with the time expected on an H100/H200 node with 16
# cores. Built here they add up to 450 s (7.5 min); with PREBUILT (no configure, no build), 290 s.
readonly T_CONFIGURE=30    # expected 10 s
readonly T_BUILD=130       # expected 60-90 s: 3 targets; count_kernels.cu (Thrust) is the longest unit
readonly T_PROBE=10        # expected 2 s: nvidia-smi, and `maskeval agree --backend cuda` on data/lidc
readonly T_TESTS=40        # expected 10-25 s: every GPU test, one process each (ctest -j 4)
readonly T_MEMCHECK=60     # expected 30-45 s: memcheck over the counting, write, engine, EDT tests
readonly T_RACECHECK=30    # expected 10-20 s: racecheck over the shared-memory counting kernels
readonly T_BENCH_PASSES=30 # expected 10-15 s: count and write passes, W1, W2, 10,000 small cases
readonly T_BENCH_JOBS=30   # expected 10-15 s: agree+majority and STAPLE, kernels only
readonly T_BENCH_E2E=20    # expected 5-10 s: agree+majority from host memory, 3 iterations each
readonly T_BENCH_DIST=30   # expected 10-20 s: 512^3 volume drawn on the host, transforms, matrix
readonly T_PEER=40         # expected 25-35 s: torch import, W1, W2, STAPLE 20 iterations

# The GPU tests fail instead of skipping where no device is usable.
export MASKEVAL_REQUIRE_GPU=1

# Sanitized tests: memcheck over everything that launches kernels but the whole-run comparisons
# and the test that fills device memory on purpose;
# racecheck over the tests that reach both shared-memory counting kernels (dense and packed).
readonly MEMCHECK_FILTER='CudaCount.*:CudaVote.*:CudaStaple.*:CudaMlStaple.*:CudaWrite.*:CudaEngine.*:CudaDistance.Transform*:CudaSlab*:CudaFallback*:CudaWide*-CudaFallback.AFailedAllocation*:CudaFallback.ARun*'
readonly RACECHECK_FILTER='CudaCount.EachCase*:CudaCount.ManySmall*'
readonly NO_DEVICE_RE='no usable CUDA device|no CUDA device|no CUDA-capable device|cudaErrorNoDevice|CUDA driver version is insufficient|Device not supported'

# --- Paths --------------------------------------------------------------------------------
absolute() {  # a path given relative to the caller's folder, made absolute
  case "$1" in /*) echo "$1" ;; *) echo "$caller_dir/$1" ;; esac
}
out=$(absolute "${OUT:-$repo/gpu-check-out}")
prebuilt=""
if [ -n "${PREBUILT:-}" ]; then
  prebuilt=$(absolute "$PREBUILT")
  [ -d "$prebuilt" ] || prebuilt="$repo/$PREBUILT"
fi
build="${prebuilt:-$(absolute "${BUILD_DIR:-build-gpu}")}"
arch="${CMAKE_CUDA_ARCHITECTURES:-90}"
test_cuda="$build/tests/test_cuda"
bench="$build/bench/maskeval_bench_cuda"
maskeval_bin="$build/maskeval"
mkdir -p "$out"
rm -f "$out"/{summary.txt,results.json,build.log,tests.log,sanitizer.log,bench.log,bench.json,peer_anchor.json}
summary="$out/summary.txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")  # scratch: step logs and JSON parts
steps="$work/steps.tsv"  # step, status, seconds, limit, detail
facts="$work/facts.tsv"  # key, value: test counts, sanitizer errors, device
: >"$steps"
: >"$facts"
cleanup=()
trap 'for c in "${cleanup[@]}"; do eval "$c"; done; rm -rf "$work"' EXIT

# --- Helpers ------------------------------------------------------------------------------
say() { echo "gpu-check: $*" | tee -a "$summary"; }
fact() { printf '%s\t%s\n' "$1" "$2" >>"$facts"; }

# record STEP STATUS SECONDS LIMIT DETAIL: the step's line, in the summary and in steps.tsv.
# STATUS is PASS, FAIL, TIMEOUT, SKIP (not needed: counts for nothing) or WARN (optional step).
record() {
  printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$steps"
  say "$(printf '%-18s %-7s %4ss of %3ss  %s' "$@")"
}

# limited LIMIT LOG COMMAND...: COMMAND with at most LIMIT seconds, its output added to LOG.
# Sets rc (124 or 137: timed out) and took (seconds).
limited() {
  local limit=$1 log=$2
  shift 2
  local t0=$SECONDS
  echo "\$ $*" >>"$log"
  timeout -k 5 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  took=$((SECONDS - t0))
}
timed_out() { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }
no_device_in() { grep -qiE "$NO_DEVICE_RE" "$@" 2>/dev/null; }
first_error() { grep -m1 -iE "$2" "$1" | cut -c1-150; }

# status_for OK: TIMEOUT when the last command timed out, else PASS when OK is 1, else FAIL.
status_for() {
  if timed_out; then echo TIMEOUT; elif [ "$1" = 1 ]; then echo PASS; else echo FAIL; fi
}

# gtest_counts LOG: "total passed failed skipped" from gtest's own per-test lines (also when
# ctest -V prefixes them with "N: "); a test that started but never ended counts as failed.
gtest_counts() {
  local run ok failed skipped
  run=$(grep -cE '\[ RUN      \] ' "$1")
  ok=$(grep -cE '\[       OK \] .* \([0-9]+ ms\)' "$1")
  failed=$(grep -cE '\[  FAILED  \] .* \([0-9]+ ms\)' "$1")
  skipped=$(grep -cE '\[  SKIPPED \] .* \([0-9]+ ms\)' "$1")
  local lost=$((run - ok - failed - skipped))
  [ "$lost" -lt 0 ] && lost=0
  echo "$run $ok $((failed + lost)) $skipped"
}

# ctest_counts LOG: "total passed failed skipped" from ctest's result lines.
ctest_counts() {
  awk '/Test +#[0-9]+: /{
         n++
         if ($0 ~ /\*\*\*Skipped|Not Run|\*\*\*Disabled/) s++
         else if ($0 ~ / Passed /) p++
         else f++
       }
       END { printf "%d %d %d %d\n", n, p, f, s }' "$1"
}

# sanitizer_errors LOG: the errors (memcheck) or hazards (racecheck) the summary lines report,
# or nothing when no summary line was printed.
sanitizer_errors() {
  local pattern='ERROR SUMMARY: [0-9]+ error'
  grep -qE 'RACECHECK SUMMARY: [0-9]+ hazard' "$1" && pattern='RACECHECK SUMMARY: [0-9]+ hazard'
  grep -oE "$pattern" "$1" | grep -oE '[0-9]+' | awk '{ s += $1 } END { if (NR) print s }'
}

device_note() { no_device_in "$@" && echo " (no device)"; }

# --- Steps --------------------------------------------------------------------------------
step_configure() {
  if [ -n "$prebuilt" ]; then
    record configure SKIP 0 0 "PREBUILT=$prebuilt"
    return
  fi
  local generator=()
  if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
  limited "$T_CONFIGURE" "$out/build.log" cmake -S . -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DMASKEVAL_CUDA=ON -DMASKEVAL_OPENCV=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DMASKEVAL_TESTS=ON -DMASKEVAL_BENCH=ON
  local ok=0 detail="sm_$arch, $build"
  [ "$rc" -eq 0 ] && ok=1
  if grep -q "Google Benchmark not found" "$out/build.log"; then
    ok=0 detail="Google Benchmark not found: no benchmarks"
  elif [ "$rc" -ne 0 ]; then
    detail=$(first_error "$out/build.log" "CMake Error|error|NOTFOUND")
  fi
  record configure "$(status_for $ok)" "$took" "$T_CONFIGURE" "$detail"
}

step_build() {
  if [ -n "$prebuilt" ]; then
    record build SKIP 0 0 "PREBUILT=$prebuilt"
    return
  fi
  limited "$T_BUILD" "$out/build.log" cmake --build "$build" -j "$(nproc)" \
    --target test_cuda maskeval_bench_cuda maskeval
  local ok=0 detail="test_cuda, maskeval_bench_cuda, maskeval"
  [ "$rc" -eq 0 ] && ok=1
  [ "$rc" -ne 0 ] && detail="$(first_error "$out/build.log" "error|FAILED") (build.log)"
  record build "$(status_for $ok)" "$took" "$T_BUILD" "$detail"
}

# PREBUILT: the shared libraries carried beside the executables, and the source folder compiled
# into test_cuda (MASKEVAL_SOURCE_DIR: the sample data) linked to this checkout when it is absent.
prepare_prebuilt() {
  [ -n "$prebuilt" ] || return 0
  if [ -d "$prebuilt/runtime/lib" ]; then
    export LD_LIBRARY_PATH="$prebuilt/runtime/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  local missing
  missing=$(ldd "$test_cuda" "$bench" "$maskeval_bin" 2>/dev/null | awk '/not found/{print $1}' | sort -u | paste -sd' ')
  [ -n "$missing" ] && say "PREBUILT: shared libraries not found: $missing"
  local src=""
  if [ -f "$prebuilt/CMakeCache.txt" ]; then
    src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$prebuilt/CMakeCache.txt")
  elif [ -f "$prebuilt/runtime/source-dir.txt" ]; then
    src=$(cat "$prebuilt/runtime/source-dir.txt")
  fi
  if [ -z "$src" ] || [ "$src" = "$repo" ]; then return 0; fi
  if [ -e "$src" ]; then
    say "PREBUILT: test_cuda reads the sample data of $src (compiled in), not of $repo"
  elif [ "${GPU_CHECK_LINK_SOURCE:-1}" = 1 ] && mkdir -p "$(dirname "$src")" 2>/dev/null &&
       ln -s "$repo" "$src" 2>/dev/null; then
    cleanup+=("rm -f '$src'")
    say "PREBUILT: linked $src -> $repo (the source path compiled into test_cuda), removed at the end"
  else
    say "PREBUILT: $src (compiled into test_cuda) is absent: CudaPipeline.* cannot find data/"
  fi
}

# The device: nvidia-smi where there is one, and a small real run on the CUDA backend.
step_probe() {
  local log="$work/probe.log" gpu="" ok=0 detail
  : >"$log"
  if command -v nvidia-smi >/dev/null; then
    timeout 5 nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
      >"$work/smi.txt" 2>&1
    gpu=$(head -1 "$work/smi.txt")
  else
    gpu="nvidia-smi not found"
  fi
  fact gpu "$gpu"
  if [ ! -x "$maskeval_bin" ]; then
    record probe FAIL 0 "$T_PROBE" "$maskeval_bin not built; nvidia-smi: $gpu"
    fact no_device unknown
    return
  fi
  limited "$T_PROBE" "$log" "$maskeval_bin" agree --cases data/lidc --raters 'reader*.png' \
    --foreground nonzero --backend cuda -q -o "$work/probe-out"
  cat "$log" >>"$out/tests.log"
  [ "$rc" -eq 0 ] && ok=1
  detail="nvidia-smi: $gpu; maskeval agree --backend cuda: rc $rc"
  if no_device_in "$log"; then
    detail="no device: $(first_error "$log" "$NO_DEVICE_RE"); nvidia-smi: $gpu"
    fact no_device 1
  else
    fact no_device 0
  fi
  record probe "$(status_for $ok)" "$took" "$T_PROBE" "$detail"
}

# Every GPU test: ctest -L gpu in a build made here, test_cuda itself with PREBUILT (ctest's
# files hold this machine's absolute paths). Skips are counted from both ctest and gtest.
step_tests() {
  local log="$work/tests.log" total passed failed skipped g
  : >"$log"
  if [ ! -x "$test_cuda" ]; then
    record tests FAIL 0 "$T_TESTS" "$test_cuda not built"
    return
  fi
  if [ -z "$prebuilt" ]; then
    limited "$T_TESTS" "$log" ctest --test-dir "$build" -L gpu -j 4 --timeout 30 -V --no-label-summary
    read -r total passed failed skipped < <(ctest_counts "$log")
    grep -q "No tests were found" "$log" && total=0
  else
    limited "$T_TESTS" "$log" "$test_cuda" --gtest_color=no
    read -r total passed failed skipped < <(gtest_counts "$log")
  fi
  read -r _ _ _ g < <(gtest_counts "$log")
  [ "$g" -gt "$skipped" ] && skipped=$g && passed=$((total - failed - skipped))
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # a crash or a timeout
  cat "$log" >>"$out/tests.log"
  fact tests_total "$total"; fact tests_passed "$passed"
  fact tests_failed "$failed"; fact tests_skipped "$skipped"
  local ok=0
  [ "$rc" -eq 0 ] && [ "$total" -gt 0 ] && [ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ] && ok=1
  record tests "$(status_for $ok)" "$took" "$T_TESTS" \
    "$passed passed, $failed failed, $skipped skipped of $total$(device_note "$log")"
}

# step_sanitizer TOOL FILTER LIMIT: compute-sanitizer TOOL over test_cuda's FILTER. Without
# compute-sanitizer the filtered tests still run, so that the step says what the device does.
step_sanitizer() {
  local tool=$1 filter=$2 limit=$3 log="$work/$1.log" sanitizer errors
  : >"$log"
  sanitizer=$(command -v compute-sanitizer || true)
  for c in "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer" /usr/local/cuda/bin/compute-sanitizer; do
    [ -z "$sanitizer" ] && [ -x "$c" ] && sanitizer=$c
  done
  if [ ! -x "$test_cuda" ]; then
    record "$tool" FAIL 0 "$limit" "$test_cuda not built"
    return
  fi
  if [ -z "$sanitizer" ]; then
    limited "$limit" "$log" "$test_cuda" --gtest_filter="$filter" --gtest_color=no
  else
    limited "$limit" "$log" "$sanitizer" --tool "$tool" --error-exitcode 9 \
      "$test_cuda" --gtest_filter="$filter" --gtest_color=no
  fi
  { echo "== $tool: $filter"; cat "$log"; } >>"$out/sanitizer.log"
  local total passed failed skipped
  read -r total passed failed skipped < <(gtest_counts "$log")
  errors=$(sanitizer_errors "$log")
  local tests
  tests="tests $passed passed, $failed failed, $skipped skipped of $total$(device_note "$log")"
  if [ -z "$sanitizer" ]; then
    record "$tool" FAIL "$took" "$limit" "compute-sanitizer not found; unsanitized $tests"
    return
  fi
  fact "sanitizer_$tool" "$errors"
  local ok=0
  [ "$rc" -eq 0 ] && [ "${errors:-x}" = 0 ] && [ "$total" -gt 0 ] && [ "$skipped" -eq 0 ] && ok=1
  local found="${errors:-no summary line}"
  [ -n "$errors" ] && found="$errors errors"
  grep -q "Device not supported" "$log" && found="$found, compute-sanitizer: Device not supported"
  record "$tool" "$(status_for $ok)" "$took" "$limit" "$found; $tests"
}

# The form of --benchmark_min_time this Google Benchmark takes: 1.8 and later document `0.1s`,
# 1.7 wants a plain number (which later versions still take, with a warning).
bench_min_time() {
  if "$bench" --help 2>&1 | grep -q '<float>s'; then echo 0.1s; else echo 0.1; fi
}

# step_bench NAME FILTER LIMIT: one group of benchmarks, its JSON kept for the table.
step_bench() {
  local name=$1 filter=$2 limit=$3 json="$work/bench-$1.json"
  if [ ! -x "$bench" ]; then
    record "bench-$name" FAIL 0 "$limit" "$bench not built"
    return
  fi
  local log="$work/bench-$name.log"
  : >"$log"
  limited "$limit" "$log" "$bench" --benchmark_filter="$filter" \
    --benchmark_min_time="$(bench_min_time)" --benchmark_counters_tabular=true \
    --benchmark_out="$json" --benchmark_out_format=json
  cat "$log" >>"$out/bench.log"
  local runs errors message
  runs=$(grep -c '"run_type":' "$json" 2>/dev/null)
  errors=$(grep -c '"error_occurred": true' "$json" 2>/dev/null)
  message=$(grep -m1 -oE '"error_message": "[^"]*"' "$json" 2>/dev/null | cut -d'"' -f4)
  local ok=0 detail="${runs:-0} run, ${errors:-0} with errors${message:+ ($message)}"
  [ "$rc" -eq 0 ] && [ "${runs:-0}" -gt 0 ] && [ "${errors:-0}" -eq 0 ] && ok=1
  record "bench-$name" "$(status_for $ok)" "$took" "$limit" "$detail"
}

# The PyTorch peer, last and optional: WARN when it fails, SKIP when it or torch is missing.
step_peer() {
  if [ ! -f .peer/torch_peer.py ]; then
    record peer SKIP 0 "$T_PEER" "no .peer/torch_peer.py (scripts/prepare-gpu-carry.sh copies it)"
    return
  fi
  if ! command -v python3 >/dev/null; then
    record peer SKIP 0 "$T_PEER" "no python3"
    return
  fi
  local log="$work/peer.log"
  : >"$log"
  limited "$T_PEER" "$log" env OUT="$out" PYTHONUNBUFFERED=1 python3 .peer/torch_peer.py
  { echo "== PyTorch peer"; cat "$log"; } >>"$out/bench.log"
  if grep -q "No module named 'torch'" "$log"; then
    record peer SKIP "$took" "$T_PEER" "python3 has no torch"
  elif [ "$rc" -eq 0 ] && [ -f "$out/peer_anchor.json" ]; then
    record peer PASS "$took" "$T_PEER" "peer_anchor.json"
  elif timed_out; then
    record peer TIMEOUT "$took" "$T_PEER" "optional: its rows are not measured"
  else
    record peer WARN "$took" "$T_PEER" "rc $rc$(device_note "$log"): $(tail -1 "$log" | cut -c1-100)"
  fi
}

# The table, results.json, and the verdict as the last line and the exit status.
report() {
  if command -v python3 >/dev/null; then
    python3 scripts/gpu_check_report.py --out "$out" --work "$work"
    return
  fi
  say "no python3: no table; steps:"
  cat "$steps"
  echo "gpu-check: FAIL (no python3 to read the results)" | tee -a "$summary"
  return 1
}

# --- The check ------------------------------------------------------------------------------
main() {
  local commit
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  fact commit "$commit"
  say "$(date -u +%FT%TZ) commit $commit, ${prebuilt:+PREBUILT=}$build, OUT=$out, MASKEVAL_REQUIRE_GPU=1"
  step_configure
  step_build
  prepare_prebuilt
  step_probe
  step_tests
  step_sanitizer memcheck "$MEMCHECK_FILTER" "$T_MEMCHECK"
  step_sanitizer racecheck "$RACECHECK_FILTER" "$T_RACECHECK"
  step_bench passes '^(count_pass|write_pass)/' "$T_BENCH_PASSES"
  step_bench jobs '^(agree_majority_kernels|staple_job)/' "$T_BENCH_JOBS"
  step_bench end-to-end '^agree_majority_end_to_end/' "$T_BENCH_E2E"
  step_bench distance '^distance_' "$T_BENCH_DIST"
  step_peer
  report
}

main
