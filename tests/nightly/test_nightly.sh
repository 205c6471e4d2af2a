#!/usr/bin/env bash
# The nightly QA recipe (scripts/nightly-example.sh, docs/nightly.md) on data/camvid, end to end:
#   (a) night 1, the repository's gates: exit 0, no baseline;
#   (b) a gate that fails on the real figures: exit 4, a fail row in gates.csv, the gate named;
#   (c) night 2, same data, --baseline night 1 (the failed night (b) skipped): exit 0, deltas 0;
#   (d) night 3, one prediction swapped for another case's: a delta gate fails (exit 4), the
#       altered case moved most (baseline.csv, report.json baseline.moved);
#   (e) maskeval diff of the references against a copy with one file swapped: exit 5 with
#       --fail-on-change, exactly that entry changed; against an identical copy: exit 0.
# Usage: test_nightly.sh MASKEVAL SOURCE_DIR. Works under a mktemp folder it removes; needs
# bash, awk, sed, grep, tr and cp only.
set -uo pipefail
export LC_ALL=C
if [ $# -ne 2 ]; then
  echo "usage: $0 MASKEVAL SOURCE_DIR" >&2
  exit 2
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
src="$(cd "$2" && pwd)"
camvid="$src/data/camvid"
script="$src/scripts/nightly-example.sh"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-nightly.XXXXXX")" || exit 2
trap 'rm -rf "$tmp"' EXIT

failures=0
pass() { echo "  ok: $*"; }
fail() {
  echo "  FAILED: $*"
  failures=$((failures + 1))
}
# expect_rc WHAT WANT GOT LOG: the exit code, with the log's tail when it is not the one wanted.
expect_rc() {
  if [ "$3" = "$2" ]; then
    pass "$1: exit $3"
    return 0
  fi
  fail "$1: exit $3, expected $2"
  [ -f "$4" ] && tail -n 20 "$4" | sed 's/^/    | /'
  return 1
}

# csv FILE: the file as lines of tab-separated cells (quoted cells read; no tabs in the data).
csv() {
  awk '
    {
      out = ""; cell = ""; q = 0
      for (i = 1; i <= length($0); i++) {
        c = substr($0, i, 1)
        if (q) {
          if (c == "\"") { if (substr($0, i + 1, 1) == "\"") { cell = cell c; i++ } else q = 0 }
          else cell = cell c
        } else if (c == "\"") q = 1
        else if (c == ",") { out = out cell "\t"; cell = "" }
        else cell = cell c
      }
      print out cell
    }' "$1"
}
# col FILE NAME: the 1-based index of column NAME in FILE's header.
col() { csv "$1" | head -n 1 | tr '\t' '\n' | grep -nx -- "$2" | cut -d: -f1; }

night() {  # night NAME [VAR=VALUE...]: runs the script into $tmp/nightly/NAME, output in NAME.out
  local name="$1"
  shift
  env MASKEVAL="$bin" NIGHTLY_DIR="$tmp/nightly" NIGHT="$name" "$@" \
    bash "$script" --threads 2 >"$tmp/$name.out" 2>&1
}

altered=Seq05VD_f01140  # its prediction is replaced by 0001TP_008550's in (d)
echo "maskeval: $bin"
help="$("$bin" score --help 2>/dev/null)"
if ! grep -q -- '--baseline' <<<"$help"; then
  echo "  note: this maskeval has no --baseline: (c) and (d) cannot pass"
fi

echo "(a) night 1 on data/camvid with scripts/nightly-gates.yaml: every gate passes"
night 2024-01-01
rc=$?
d="$tmp/nightly/2024-01-01"
if expect_rc "night 1" 0 "$rc" "$tmp/2024-01-01.out"; then
  [ "$(cat "$d/nightly-status" 2>/dev/null)" = 0 ] && pass "nightly-status says 0" ||
    fail "nightly-status is not 0"
  grep -q 'baseline: none' "$tmp/2024-01-01.out" && pass "no baseline on the first night" ||
    fail "the first night should have no baseline"
  n=$(csv "$d/gates.csv" | awk -F'\t' -v v="$(col "$d/gates.csv" verdict)" 'NR > 1 && $v != "pass"' | wc -l)
  [ "$n" = 0 ] && pass "gates.csv: every row passes" || fail "gates.csv: $n rows do not pass"
fi

echo "(b) a gate that fails on the real figures (Pole's mean Dice is 0.187): exit 4"
printf '%s\n' '- name: pole-floor' "  fail_if: 'rater=*: mean_dice[Pole] < 0.5'" >"$tmp/fail.yaml"
night 2024-01-02 GATES="$tmp/fail.yaml" BASELINE=none
rc=$?
d="$tmp/nightly/2024-01-02"
if expect_rc "failing gate" 4 "$rc" "$tmp/2024-01-02.out"; then
  row=$(csv "$d/gates.csv" | awk -F'\t' -v v="$(col "$d/gates.csv" verdict)" \
    -v g="$(col "$d/gates.csv" gate)" -v i="$(col "$d/gates.csv" item)" \
    'NR > 1 && $v == "fail" && $g == "pole-floor" && $i == "model"')
  [ -n "$row" ] && pass "gates.csv has the fail row of pole-floor for model" ||
    fail "gates.csv has no fail row for pole-floor: $(cat "$d/gates.csv")"
  grep -q 'FAIL  pole-floor  \[model\]  mean_dice\[Pole\] = 0.18' "$tmp/2024-01-02.out" &&
    pass "the job names the failing gate and its figure" ||
    fail "the job's output does not name the gate: $(cat "$tmp/2024-01-02.out")"
  grep -q 'gates.csv' "$tmp/2024-01-02.out" && grep -q 'report.html' "$tmp/2024-01-02.out" &&
    pass "the job points at gates.csv and report.html" || fail "no pointer to gates.csv, report.html"
fi

echo "(c) night 2, same data: baseline night 1 (not the failed (b)), exit 0, every delta 0"
night 2024-01-03
rc=$?
d="$tmp/nightly/2024-01-03"
if expect_rc "night 2" 0 "$rc" "$tmp/2024-01-03.out"; then
  grep -q "baseline: $tmp/nightly/2024-01-01/report.json" "$tmp/2024-01-03.out" &&
    pass "baseline is night 1, the latest night that passed" ||
    fail "wrong baseline: $(grep baseline: "$tmp/2024-01-03.out")"
  if [ -f "$d/baseline.csv" ]; then
    dc=$(col "$d/baseline.csv" delta)
    rows=$(csv "$d/baseline.csv" | awk -F'\t' -v c="$dc" 'NR > 1 && $c != ""' | wc -l)
    nonzero=$(csv "$d/baseline.csv" | awk -F'\t' -v c="$dc" 'NR > 1 && $c != "" && $c + 0 != 0')
    [ "$rows" -gt 0 ] && [ -z "$nonzero" ] && pass "baseline.csv: all $rows deltas are 0" ||
      fail "baseline.csv: $rows deltas, not all 0: $nonzero"
  else
    fail "no baseline.csv in night 2"
  fi
  flat=$(tr -d ' \n' <"$d/report.json")
  case "$flat" in
    *'"cases_added":[]'*'"cases_removed":[]'* | *'"cases_removed":[]'*'"cases_added":[]'*)
      pass "report.json baseline: no case added or removed" ;;
    *) fail "report.json: baseline.cases_added/cases_removed missing or not empty" ;;
  esac
  grep -q 'delta(' "$d/nightly-gates.yaml" && pass "the regression gates ran" ||
    fail "the regression gates were not added to tonight's gates"
fi

echo "(d) night 3: $altered's prediction replaced by 0001TP_008550's: a delta gate fails"
cp -r "$camvid/prediction" "$tmp/prediction-v3"
cp "$camvid/prediction/0001TP_008550.png" "$tmp/prediction-v3/$altered.png"
night 2024-01-04 PREDICTION="$tmp/prediction-v3"
rc=$?
d="$tmp/nightly/2024-01-04"
if expect_rc "night 3" 4 "$rc" "$tmp/2024-01-04.out"; then
  grep -q "baseline: $tmp/nightly/2024-01-03/report.json" "$tmp/2024-01-04.out" &&
    pass "baseline is night 2" || fail "wrong baseline: $(grep baseline: "$tmp/2024-01-04.out")"
  g="$d/gates.csv"
  fails=$(csv "$g" | awk -F'\t' -v v="$(col "$g" verdict)" -v n="$(col "$g" gate)" \
    -v i="$(col "$g" item)" -v x="$(col "$g" value)" 'NR > 1 && $v == "fail" { print $n " " $i " " $x }')
  echo "$fails" | sed 's/^/    failing: /'
  echo "$fails" | grep -q "^road-regressed-in-a-case $altered " &&
    [ "$(echo "$fails" | grep -c '^road-regressed-in-a-case ')" = 1 ] &&
    pass "road-regressed-in-a-case fails for $altered alone" ||
    fail "road-regressed-in-a-case should fail for $altered and no other case"
  echo "$fails" | grep -q '^model-regressed model ' && pass "model-regressed fails" ||
    fail "model-regressed should fail"
  if [ -f "$d/baseline.csv" ]; then
    b="$d/baseline.csv"
    cases=$(csv "$b" | awk -F'\t' -v s="$(col "$b" scope)" -v i="$(col "$b" item)" \
      -v f="$(col "$b" figure)" -v l="$(col "$b" label)" -v b0="$(col "$b" before)" \
      -v n="$(col "$b" now)" -v c="$(col "$b" delta)" \
      'NR > 1 && $s == "case" && $c != "" { print $i "\t" $l "\t" $f "\t" $b0 "\t" $n "\t" $c }')
    echo "$cases" | awk -F'\t' '{ printf "    case %s %s%s: before %s now %s delta %s\n", $1, $3, ($2 == "" ? "" : "[" $2 "]"), $4, $5, $6 }'
    top=$(echo "$cases" | awk -F'\t' '{ a = $6 < 0 ? -$6 : $6; if (a > m) { m = a; t = $1 } } END { print t }')
    others=$(echo "$cases" | awk -F'\t' -v x="$altered" '$1 != x && $6 + 0 != 0')
    [ "$top" = "$altered" ] && [ -z "$others" ] &&
      pass "baseline.csv: $altered moved most, every other case's delta is 0" ||
      fail "baseline.csv: the case that moved most is '$top', others moved: $others"
  else
    fail "no baseline.csv in night 3"
  fi
  moved=$(tr -d ' \n' <"$d/report.json" | sed -n 's/.*"moved":\[{\([^}]*\)}.*/\1/p')
  first=$(echo "$moved" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  [ "$first" = "$altered" ] && pass "report.json baseline.moved names $altered first: {$moved}" ||
    fail "report.json baseline.moved[0] is '$first', expected $altered"
fi

echo "(e) maskeval diff of two reference versions"
cp -r "$camvid/reference" "$tmp/reference-v2"
cp "$camvid/reference/0001TP_008550.png" "$tmp/reference-v2/$altered.png"
cp -r "$camvid/reference" "$tmp/reference-same"
"$bin" diff "$camvid/reference" "$tmp/reference-v2" --labels "$camvid/labels.csv" \
  -o "$tmp/diff" --fail-on-change --threads 2 >"$tmp/diff.out" 2>&1
rc=$?
if expect_rc "diff, one file swapped, --fail-on-change" 5 "$rc" "$tmp/diff.out"; then
  f="$tmp/diff/diff.csv"
  st=$(csv "$f" | awk -F'\t' -v e="$(col "$f" entry)" -v s="$(col "$f" status)" \
    -v l="$(col "$f" label)" 'NR > 1 && $l == "" { print $e " " $s }')
  changed=$(echo "$st" | awk '$2 == "changed" { print $1 }')
  unchanged=$(echo "$st" | awk '$2 == "unchanged"' | wc -l)
  [ "$changed" = "$altered" ] && [ "$unchanged" = 5 ] && [ "$(echo "$st" | wc -l)" = 6 ] &&
    pass "diff.csv: $altered changed, the other 5 unchanged" ||
    fail "diff.csv statuses: $(echo "$st" | tr '\n' ';')"
fi
"$bin" diff "$camvid/reference" "$tmp/reference-same" -o "$tmp/diff-same" --fail-on-change \
  --threads 2 >"$tmp/diff-same.out" 2>&1
rc=$?
if expect_rc "diff, identical copies, --fail-on-change" 0 "$rc" "$tmp/diff-same.out"; then
  f="$tmp/diff-same/diff.csv"
  n=$(csv "$f" | awk -F'\t' -v s="$(col "$f" status)" 'NR > 1 && $s == "unchanged"' | wc -l)
  [ "$n" = 6 ] && pass "diff.csv: all 6 unchanged" || fail "diff.csv: $n of 6 unchanged"
fi

if [ "$failures" -gt 0 ]; then
  echo "test_nightly: $failures check(s) FAILED"
  exit 1
fi
echo "test_nightly: all checks passed"
