#!/usr/bin/env bash
# Nightly QA job (docs/nightly.md): scores the CamVid sample predictions against their
# references with maskeval, keeps each night's outputs in NIGHTLY_DIR/NIGHT/, compares with the
# latest earlier night that passed (--baseline), applies the gates and exits with maskeval's
# exit code, so that cron, CI or a scheduler can alert on it:
#   0 ok; 3 cases failed or paths unreadable; 4 a gate failed (named below); 1, 2, other: broke.
#
# Usage: scripts/nightly-example.sh [more maskeval score options, e.g. --threads 2]
# Environment (paths relative to the current folder; defaults in the repository):
#   MASKEVAL          the binary (build/maskeval)
#   NIGHTLY_DIR       where the nights are kept (nightly/)
#   NIGHT             tonight's folder name ($(date +%F)); names must sort in date order
#   PREDICTION        predictions folder (data/camvid/prediction), scored under the name MODEL
#   MODEL             the prediction's name in the reports (model); keep it from night to night
#   REFERENCE         reference folder (data/camvid/reference)
#   LABELS            labels file (data/camvid/labels.csv); IGNORE_LABEL (11; empty: none)
#   GATES             gates of every night (scripts/nightly-gates.yaml)
#   REGRESSION_GATES  gates added when there is a baseline (scripts/nightly-regression-gates.yaml)
#   BASELINE          a report.json to compare with instead of the latest earlier night that
#                     passed; BASELINE=none: no comparison (starts a new baseline once it passes)
# Each night's folder: maskeval's outputs (report.json, report.html, the CSV tables, gates.csv,
# baseline.csv with a baseline), nightly-gates.yaml (the gates it ran), maskeval.log (its
# terminal output) and nightly-status (its exit code; only nights with 0 become baselines).
set -uo pipefail
export LC_ALL=C
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac

bin="${MASKEVAL:-$root/build/maskeval}"
nightly_dir="${NIGHTLY_DIR:-$root/nightly}"
night_name="${NIGHT:-$(date +%F)}"
prediction="${PREDICTION:-$root/data/camvid/prediction}"
model="${MODEL:-model}"
reference="${REFERENCE:-$root/data/camvid/reference}"
labels="${LABELS-$root/data/camvid/labels.csv}"
ignore_label="${IGNORE_LABEL-11}"
gates="${GATES:-$root/scripts/nightly-gates.yaml}"
regression_gates="${REGRESSION_GATES-$root/scripts/nightly-regression-gates.yaml}"

die() {  # the job could not start: exit 2, as maskeval does when a run cannot go on
  echo "nightly: $*" >&2
  exit 2
}
command -v "$bin" >/dev/null || die "no maskeval at $bin (build it: bash scripts/build.sh, or set MASKEVAL)"
case "$night_name" in
  "" | . | .. | */*) die "NIGHT must be a plain folder name, not '$night_name'" ;;
esac
for f in "$prediction" "$reference"; do [ -d "$f" ] || die "no folder $f"; done
for f in "$gates" ${labels:+"$labels"} ${regression_gates:+"$regression_gates"}; do
  [ -r "$f" ] && [ ! -d "$f" ] || die "no file $f"
done
night="$nightly_dir/$night_name"
mkdir -p "$night" || die "cannot create $night"

# The baseline: the latest night before tonight (by name) whose run passed (status 0).
baseline=""
case "${BASELINE:-}" in
  none) ;;
  "")
    shopt -s nullglob
    for d in "$nightly_dir"/*/; do
      d="${d%/}"
      [[ "${d##*/}" < "$night_name" ]] || continue
      [ -f "$d/report.json" ] && [ "$(cat "$d/nightly-status" 2>/dev/null)" = 0 ] || continue
      baseline="$d/report.json"
    done
    ;;
  *) [ -f "$BASELINE" ] || die "BASELINE=$BASELINE: no such file"; baseline="$BASELINE" ;;
esac

# Tonight's gates: every night's, plus the regression gates when there is something to compare.
tonight_gates="$night/nightly-gates.yaml"
{
  cat "$gates"
  if [ -n "$baseline" ] && [ -n "$regression_gates" ]; then echo; cat "$regression_gates"; fi
} >"$tonight_gates" || die "cannot write $tonight_gates"

cmd=("$bin" score --prediction "$model=$prediction" --reference "$reference")
[ -n "$labels" ] && cmd+=(--labels "$labels")
[ -n "$ignore_label" ] && cmd+=(--ignore-label "$ignore_label")
cmd+=(--gates "$tonight_gates" -o "$night")
[ -n "$baseline" ] && cmd+=(--baseline "$baseline")
cmd+=("$@")

echo "nightly $night_name: $night"
if [ -n "$baseline" ]; then
  echo "  baseline: $baseline"
else
  echo "  baseline: none (first night, none passed before, or BASELINE=none): regression gates skipped"
fi
echo running >"$night/nightly-status"  # a run cut short is never a baseline
"${cmd[@]}" >"$night/maskeval.log" 2>&1
rc=$?
echo "$rc" >"$night/nightly-status"

# gates.csv rows that did not pass, one line each (a small CSV reader: quoted cells allowed).
failing_gates() {
  awk '
    function split_csv(line, f,   n, i, c, cell, q) {
      n = 0; cell = ""; q = 0
      for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (q) {
          if (c == "\"") { if (substr(line, i + 1, 1) == "\"") { cell = cell c; i++ } else q = 0 }
          else cell = cell c
        } else if (c == "\"") q = 1
        else if (c == ",") { f[++n] = cell; cell = "" }
        else cell = cell c
      }
      f[++n] = cell
      return n
    }
    NR == 1 { n = split_csv($0, h); for (i = 1; i <= n; i++) col[h[i]] = i; next }
    {
      split_csv($0, f)
      v = f[col["verdict"]]
      if (v == "pass") next
      item = f[col["item"]] == "" ? "dataset" : f[col["item"]]
      what = v == "error" ? f[col["error"]] \
                          : f[col["figure"]] " = " f[col["value"]] " " f[col["cmp"]] " " f[col["threshold"]]
      printf "  %s %s  [%s]  %s\n", (v == "fail" ? "FAIL " : "ERROR"), f[col["gate"]], item, what
    }' "$1"
}

gates_line="$(grep -m1 '^gates: ' "$night/maskeval.log" 2>/dev/null)"
case "$rc" in
  0)
    echo "nightly $night_name: OK (${gates_line:-gates: none})"
    ;;
  3)
    echo "nightly $night_name: EXIT 3: cases failed or paths could not be read (${gates_line:-})"
    echo "  the failed cases and warnings (also under failed_cases, warnings in report.json):"
    awk '/^maskeval: warning: / { print; next } /^failed cases/ { p = 1 } /^$/ { p = 0 } p' "$night/maskeval.log" |
      head -n 40 | sed 's/^/  /'
    echo "  fix the inputs and rerun: NIGHT=$night_name $0"
    ;;
  4)
    echo "nightly $night_name: GATES FAILED (${gates_line:-})"
    [ -f "$night/gates.csv" ] && failing_gates "$night/gates.csv"
    echo "  every check: $night/gates.csv; the page: $night/report.html"
    [ -f "$night/baseline.csv" ] && echo "  against the baseline: $night/baseline.csv (cases moved most: baseline.moved in report.json)"
    case "$(tr -d ' \n' <"$night/report.json" 2>/dev/null)" in
      *'"failed_cases":[{'*) echo "  cases failed too: see failed_cases in $night/report.json" ;;
    esac
    ;;
  *)
    echo "nightly $night_name: BROKE (maskeval exit $rc: 1 usage error, 2 could not go on)"
    tail -n 15 "$night/maskeval.log" | sed 's/^/  /'
    if [ "$rc" = 1 ] && [ -n "$baseline" ]; then
      echo "  if the baseline was refused (another command, conventions, empty policy or label set),"
      echo "  start a new one: BASELINE=none NIGHT=$night_name $0"
    fi
    ;;
esac
echo "  log: $night/maskeval.log"
exit "$rc"
