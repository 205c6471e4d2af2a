#!/usr/bin/env bash
# Decoding and end-to-end runs against the plain libraries' floor, in one run: bench_io's floors
# (libpng; zlib's gzread and libdeflate on the same .nii.gz) and maskeval's loaders on 2D label
# PNGs (8 cases x 4 raters, 1024x2048, 19 labels), binary .nii.gz volumes (2 cases x 4 raters,
# 512x512x128) and the KiTS23 sample; then `agree --no-maps`, `score --no-distances` and `fuse`
# (majority and maps) on the same files with every core (--threads $(nproc)), best of 5, and the
# start of the program alone (`--version`). Each ratio is to the fastest floor, on one core,
# decoding the same files (every run reads each input once), and for fuse writing its files again
# with plain zlib and libpng at level 1: a ratio of 1 is a run as fast as one core can decode its
# inputs (and write its outputs). Needs jq and GNU time.
# Usage: bench/io_floor.sh BUILD_DIR ; prints Markdown tables.
set -euo pipefail
build="$1"
src="$(cd "$(dirname "$0")/.." && pwd)"
bin="${MASKEVAL_BIN:-$build/maskeval}"  # MASKEVAL_BIN: another build's command, for a before/after
work="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-io.XXXXXX")"
trap 'rm -rf "$work"' EXIT
"$build/bench/maskeval_bench_io" --write-inputs "$work/in"
MASKEVAL_IO_INPUTS="$work/in" "$build/bench/maskeval_bench_io" --benchmark_format=json \
  --benchmark_min_time=1 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  >"$work/io.json" 2>/dev/null
# The median time (ms) of a bench_io benchmark, or "" when it did not run (no libdeflate).
ms() {
  jq -r --arg n "decode_set/$1_median" \
    '[.benchmarks[] | select(.name == $n) | .real_time][0] // empty | . * 10 | round / 10' \
    "$work/io.json"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == "") print "-"; else printf "%.2f", a / b }'; }
floor_of() {  # the fastest floor of a set
  local best="" t
  for f in "$@"; do
    t=$(ms "$f")
    [ -z "$t" ] && continue
    if [ -z "$best" ] || awk -v t="$t" -v b="$best" 'BEGIN { exit !(t < b) }'; then best="$t"; fi
  done
  echo "$best"
}
declare -A floor
floor[png]=$(floor_of floor_libpng_png)
floor[nii]=$(floor_of floor_libdeflate_nii floor_zlib_nii)
floor[kits23]=$(floor_of floor_libdeflate_kits23 floor_zlib_kits23)

echo "| files | libpng / zlib gzread (ms) | libdeflate (ms) | maskeval loaders (ms) | loaders / fastest floor | loaders / zlib or libpng |"
echo "|---|---|---|---|---|---|"
for set in png nii kits23; do
  plain=$(ms "floor_libpng_$set")
  [ -z "$plain" ] && plain=$(ms "floor_zlib_$set")
  fast=$(ms "floor_libdeflate_$set")
  own=$(ms "maskeval_$set")
  echo "| $set | $plain | ${fast:--} | $own | $(ratio "$own" "${floor[$set]}") | $(ratio "$own" "$plain") |"
done

# best_ms ARGS...: the best wall time of 5 runs of maskeval (ms), on every core.
best_ms() {
  local best="" t
  for _ in 1 2 3 4 5; do
    rm -rf "$work/out"
    /usr/bin/time -f "%e" -o "$work/t" "$bin" "$@" -q --threads "$(nproc)" -o "$work/out" >/dev/null 2>&1 ||
      [ $? -eq 3 ] || { echo "maskeval $* failed" >&2; exit 1; }
    t=$(awk '{ printf "%.0f", $1 * 1000 }' "$work/t")
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best="$t"; fi
  done
  echo "$best"
}
start=""
for _ in 1 2 3 4 5; do
  /usr/bin/time -f "%e" -o "$work/t" "$bin" --version >/dev/null
  t=$(awk '{ printf "%.0f", $1 * 1000 }' "$work/t")
  if [ -z "$start" ] || [ "$t" -lt "$start" ]; then start="$t"; fi
done
echo
echo "Starting the program (\`maskeval --version\`, best of 5): $start ms"
echo
echo "| files | command | maskeval (ms) | floor (ms) | ratio |"
echo "|---|---|---|---|---|"
# The floor of a run: decoding its inputs, and for fuse also writing what it wrote (plain zlib
# and libpng at level 1 writing the same files again from their decoded bytes, on one core).
run() {  # SET COMMAND ARGS...
  local set="$1" what="$2" t f="${floor[$1]}" w
  shift 2
  t=$(best_ms "$@")
  if [ "$1" = fuse ]; then
    w=$("$build/bench/maskeval_bench_io" --write-floor "$work/out/cases")
    f=$(awk -v a="$f" -v b="$w" 'BEGIN { printf "%.1f", a + b }')
    what="$what; floor: decoding ${floor[$set]} + writing $w"
  fi
  echo "| $set | $what | $t | $f | $(ratio "$t" "$f") |"
}
for set in png nii; do
  ext=$([ "$set" = png ] && echo png || echo nii.gz)
  cases=(--cases "$work/in/$set")
  run "$set" "agree --no-maps" agree "${cases[@]}" --raters "r*.$ext" --no-maps
  run "$set" "score --no-distances" score "${cases[@]}" --raters "r[123].$ext" \
    --reference "r0.$ext" --no-distances
  run "$set" "fuse (majority, maps)" fuse "${cases[@]}" --raters "r*.$ext"
done
kits=(--manifest "$src/data/kits23/manifest.csv")
run kits23 "agree --no-maps" agree "${kits[@]}" --no-maps
run kits23 "score --no-distances" score "${kits[@]}" --no-distances
run kits23 "fuse (majority, maps)" fuse "${kits[@]}" --paint-order 1,3,2
