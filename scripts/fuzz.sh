#!/usr/bin/env bash
# Builds the readers' libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer)
# and runs each for FUZZ_SECONDS; exits non-zero on any finding. Environment: FUZZ_SECONDS
# (default 20), FUZZ_TARGETS (default "png tiff nii niigz mha nrrd"), FUZZ_ARGS (more libFuzzer
# options), BUILD_DIR (default build-fuzz). Findings go to $BUILD_DIR/findings/<target>/, the
# corpus grows in $BUILD_DIR/corpus/<target>/. See docs/fuzzing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build-fuzz}"
seconds="${FUZZ_SECONDS:-20}"
targets=(${FUZZ_TARGETS:-png tiff nii niigz mha nrrd})

# --- Packages: the build's own (without OpenCV), clang and its sanitizer and fuzzer runtimes ---
MASKEVAL_OPENCV=OFF bash scripts/setup.sh
if command -v dpkg-query >/dev/null; then
  missing=()
  for p in clang-14 libclang-rt-14-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "fuzz: installing ${missing[*]}" >&2
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

# --- Build ---
if [ ! -f "$build/CMakeCache.txt" ]; then
  generator=()
  if command -v ninja >/dev/null; then generator=(-G Ninja); fi
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMASKEVAL_CUDA=OFF -DMASKEVAL_OPENCV=OFF \
    -DMASKEVAL_TIFF=ON -DMASKEVAL_FUZZ=ON -DMASKEVAL_TESTS=OFF -DMASKEVAL_BENCH=OFF >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target fuzz_make_seeds "${targets[@]/#/fuzz_}"
bin="$build/tests/fuzz"

# --- Seeds: generated files of every variant, and the sample data ---
seeds="$build/seeds"
rm -rf "$seeds"
"$bin/fuzz_make_seeds" "$seeds"
find data -name '*.png' -size -64k -print0 |
  while IFS= read -r -d '' f; do cp "$f" "$seeds/png/$(echo "$f" | tr / _)"; done
find data -name '*.nii.gz' -print0 | sort -z | head -z -n 2 |
  while IFS= read -r -d '' f; do cp "$f" "$seeds/niigz/$(echo "$f" | tr / _)"; done

# --- Runs ---
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/findings/$t"
  log="$build/findings/$t/fuzz.log"
  echo "fuzz: $t for ${seconds}s" >&2
  # shellcheck disable=SC2086
  if "$bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/findings/$t/" ${FUZZ_ARGS:-} \
      "$build/corpus/$t" "$seeds/$t" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/fuzz: $t: /" >&2 || true
  else
    failed+=("$t")
    echo "fuzz: $t: FINDING, see $log and $build/findings/$t/" >&2
    tail -n 30 "$log" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no findings in ${targets[*]}" >&2
