#!/usr/bin/env bash
# Before/after wall-clock timing of two maskeval binaries on the sample-data CLI runs (score, agree).
#
# Usage: bench/compare_cli.sh OLD_BINARY NEW_BINARY [REPEATS]   (REPEATS defaults to 7)
# Runs, from the repository root, the two commands of scripts/run-sample.sh that cover the main
# paths: `score` on the KiTS23 sample case (data/kits23/manifest.csv, boundary distances on by
# default) and `agree` on BU-BIL (data/bu-bil, experts/*.png against gold.png, foreground '<128').
# Each binary first does one untimed warm-up run of each command (it also checks that the command
# works); then, per repeat, old and new run back to back (old first in odd repeats, new first in
# even ones, so both see the same machine state and neither always goes first). Each run writes
# into a fresh folder under a temporary directory that is removed at the end; its stdout/stderr go
# to a log there (maskeval has no --progress option; -q is not passed, so the summary table is
# printed and timed as in a normal run). Wall-clock time per run comes from `date +%s.%N`. The
# table gives, per command, the median of the repeats for each binary, the ratio of those medians
# (new/old) and, as a check against load that changes during the run, the median of the per-repeat
# ratios new/old ("paired"): read the ratios, taken within one run, not the absolute times (the
# machine is shared; with other work running, e.g. a build, the two ratios can differ). The
# script exits non-zero when a run exits non-zero (maskeval's 3, "some cases failed", included),
# and shows that run's log.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 OLD_BINARY NEW_BINARY [REPEATS]" >&2
  exit 1
fi
repeats="${3:-7}"
if ! [[ "$repeats" =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: REPEATS must be a positive integer, got '$repeats'" >&2
  exit 1
fi
declare -A bin
for which in old new; do
  arg="$1"; shift
  if [ ! -x "$arg" ] || [ -d "$arg" ]; then
    echo "$0: $which binary '$arg' is not an executable file" >&2
    exit 1
  fi
  bin[$which]="$(readlink -f "$arg")"  # absolute before the cd below
done

cd "$(dirname "$0")/.."
tmp="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-compare.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

commands=(score agree)
# Arguments of each command; OUT is replaced by the run's output folder.
args_for() {
  case "$1" in
    score) printf '%s\n' score --manifest data/kits23/manifest.csv -o OUT ;;
    agree) printf '%s\n' agree --cases data/bu-bil --raters 'experts/*.png' \
             --reference gold.png --foreground '<128' -o OUT ;;
  esac
}

# run_one WHICH CMD: runs it once, appends its wall-clock seconds to $tmp/WHICH.CMD.times
# unless WHICH.CMD is being warmed up (third argument "warmup").
run_one() {
  local which="$1" cmd="$2" mode="${3:-}" out="$tmp/out" log="$tmp/$1.$2.log"
  local -a argv=()
  local a
  while IFS= read -r a; do
    [ "$a" = OUT ] && a="$out/$cmd"
    argv+=("$a")
  done < <(args_for "$cmd")
  rm -rf "$out"; mkdir -p "$out"
  local t0 t1 rc=0
  t0="$(date +%s.%N)"
  "${bin[$which]}" "${argv[@]}" >"$log" 2>&1 || rc=$?
  t1="$(date +%s.%N)"
  if [ "$rc" -ne 0 ]; then
    echo "$0: $which binary failed on '$cmd' (exit $rc): ${bin[$which]} ${argv[*]}" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  if [ "$mode" != warmup ]; then
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$tmp/$which.$cmd.times"
  fi
}

for cmd in "${commands[@]}"; do
  run_one old "$cmd" warmup
  run_one new "$cmd" warmup
done
for ((i = 1; i <= repeats; i++)); do
  if ((i % 2)); then order=(old new); else order=(new old); fi
  for cmd in "${commands[@]}"; do
    for which in "${order[@]}"; do run_one "$which" "$cmd"; done
  done
done

median() {
  sort -g "$1" | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "old: ${bin[old]}"
echo "new: ${bin[new]}"
echo "repeats: $repeats (medians of wall-clock seconds per run)"
printf '%-8s %13s %13s %9s %8s\n' command "old median s" "new median s" "new/old" paired
for cmd in "${commands[@]}"; do
  mo="$(median "$tmp/old.$cmd.times")"
  mn="$(median "$tmp/new.$cmd.times")"
  paste "$tmp/old.$cmd.times" "$tmp/new.$cmd.times" |
    awk '{ printf "%.6f\n", $2 / $1 }' >"$tmp/ratio.$cmd"
  mp="$(median "$tmp/ratio.$cmd")"
  awk -v c="$cmd" -v o="$mo" -v n="$mn" -v p="$mp" \
    'BEGIN { printf "%-8s %13.3f %13.3f %9.3f %8.3f\n", c, o, n, n / o, p }'
done
