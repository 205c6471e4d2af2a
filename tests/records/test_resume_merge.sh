#!/usr/bin/env bash
# Streaming records, --resume after SIGKILL, --shard and merge, end to end on replicated BU-BIL:
#   (a) a run killed with SIGKILL mid-way keeps every case it recorded, and their rows in the
#       partial tables; --resume does only the rest, and its report equals an uninterrupted run's;
#   (b) a recorded case whose input changed is run again on --resume (and only it);
#   (c) 3 shards merged (given in any order) equal the single run; the shards split the cases;
#   (d) merge refuses a missing shard, a doubled one, one of other options, and an unfinished
#       one, naming it; --resume refuses records of other options;
#   (e) --report-memory 0 (every case read back from records.jsonl when reached) writes the
#       same report, tables and HTML as results held in memory; so does a merge.
# Usage: test_resume_merge.sh MASKEVAL SOURCE_DIR. Needs bash, jq, cp, grep, wc.
set -uo pipefail
export LC_ALL=C
if [ $# -ne 2 ]; then
  echo "usage: $0 MASKEVAL SOURCE_DIR" >&2
  exit 2
fi
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
src="$(cd "$2" && pwd)"
if ! command -v jq >/dev/null; then
  echo "jq is not installed (scripts/setup.sh installs it)"
  [ "${CI:-}" = "true" ] && exit 1
  exit 77
fi
tmp="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-resume.XXXXXX")" || exit 2
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

failures=0
pass() { echo "  ok: $*"; }
fail() {
  echo "  FAILED: $*"
  failures=$((failures + 1))
}
# The report without what differs between two runs of the same work (the command line, shard
# bookkeeping).
norm() { jq -S 'del(.command_line, .shard, .merged_from)' "$1"; }
same_report() {
  if diff <(norm "$2") <(norm "$3") >"$tmp/diff.txt"; then
    pass "$1"
  else
    fail "$1"
    head -n 20 "$tmp/diff.txt" | sed 's/^/    | /'
  fi
}
records() { cat "$1" 2>/dev/null | grep -c '"case":'; }

# 120 cases: BU-BIL's 8, 15 times over (hard links: the files are only read).
data="$tmp/data"
mkdir -p "$data"
for k in $(seq -w 1 15); do
  for c in "$src"/data/bu-bil/*/; do
    name="$(basename "$c")"
    mkdir -p "$data/r$k-$name"
    cp -al "$c"/. "$data/r$k-$name/"
  done
done
total=$(find "$data" -mindepth 1 -maxdepth 1 -type d | wc -l)
args=(agree --cases "$data" --raters 'experts/*.png' --foreground '<128' --distances --threads 1 -q)

mkdir -p "$tmp/full" "$tmp/killed" "$tmp/changed"
(cd "$tmp/full" && "$bin" "${args[@]}" -o out >log.txt 2>&1)
[ "$(records "$tmp/full/out/records.jsonl")" = "$total" ] && pass "records.jsonl has all $total cases" ||
  fail "records.jsonl has $(records "$tmp/full/out/records.jsonl") of $total cases"

# Starts the run in folder $1 (-o out) and kills it with SIGKILL once it has recorded 20 cases
# (in its own records.jsonl: one written since it started, not one an earlier run left).
run_and_kill() {
  touch "$1/started"
  sleep 0.01
  (cd "$1" && exec "$bin" "${args[@]}" -o out >log.txt 2>&1) &
  local pid=$!
  for _ in $(seq 1 600); do
    [ "$1/out/records.jsonl" -nt "$1/started" ] &&
      [ "$(records "$1/out/records.jsonl")" -ge 20 ] && break
    sleep 0.05
  done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}

# (a) SIGKILL once some cases are recorded, then --resume.
run_and_kill "$tmp/killed"
done_before=$(records "$tmp/killed/out/records.jsonl")
if [ "$done_before" -ge 20 ] && [ "$done_before" -lt "$total" ] && [ ! -f "$tmp/killed/out/report.json" ]; then
  pass "killed with $done_before of $total cases recorded, no report"
else
  fail "kill -9 did not land mid-run ($done_before of $total recorded)"
fi
# The partial tables hold the rows of the cases recorded (the last may miss its rows: the kill
# can land between the two), each row as the whole run's table has it.
partial_ids=$(tail -n +2 "$tmp/killed/out/cases.partial.csv" 2>/dev/null | cut -d, -f1 | sort -u | wc -l)
done_now=$(records "$tmp/killed/out/records.jsonl")
stray=$(tail -n +2 "$tmp/killed/out/cases.partial.csv" 2>/dev/null | grep -cvxFf "$tmp/full/out/cases.csv")
stray_pairs=$(tail -n +2 "$tmp/killed/out/pairs.partial.csv" 2>/dev/null | grep -cvxFf "$tmp/full/out/pairs.csv")
if [ "$partial_ids" -ge $((done_now - 1)) ] && [ "$partial_ids" -le "$done_now" ] &&
  [ "$stray" = 0 ] && [ "$stray_pairs" = 0 ] && [ "$partial_ids" -gt 0 ]; then
  pass "killed: cases.partial.csv and pairs.partial.csv hold the rows of $partial_ids recorded cases"
else
  fail "killed: partial tables have $partial_ids cases of $done_now recorded, $stray and $stray_pairs rows unlike the whole run's"
fi
(cd "$tmp/killed" && "$bin" "${args[@]}" -o out --resume >resume.txt 2>&1)
rc=$?
[ ! -e "$tmp/killed/out/cases.partial.csv" ] && [ ! -e "$tmp/killed/out/pairs.partial.csv" ] &&
  pass "the resumed run's end removed the partial tables" || fail "partial tables left after the run's end"
kept=$(grep -o 'resume: [0-9]* of' "$tmp/killed/resume.txt" | grep -o '[0-9]*' | head -1)
[ "$rc" = 0 ] && [ "${kept:-0}" -ge $((done_before - 1)) ] && pass "--resume kept $kept cases, exit 0" ||
  fail "--resume: exit $rc, kept '${kept:-}' of $done_before recorded"
same_report "resumed report equals the uninterrupted run's" "$tmp/full/out/report.json" \
  "$tmp/killed/out/report.json"
for t in cases.csv pairs.csv summary.csv worklist.csv; do
  cmp -s "$tmp/full/out/$t" "$tmp/killed/out/$t" && pass "$t identical" || fail "$t differs"
done

# A damaged line inside the records (not the last): its case runs again, the rest are kept.
sed -i '5s/.*/{"case": "damaged"}/' "$tmp/killed/out/records.jsonl"
(cd "$tmp/killed" && "$bin" "${args[@]}" -o out --resume >resume3.txt 2>&1)
grep -q "$((total - 1)) of $total cases kept.*1 damaged lines left out" "$tmp/killed/resume3.txt" &&
  pass "a damaged line: its case run again" ||
  fail "a damaged line: $(cat "$tmp/killed/resume3.txt")"
same_report "after a damaged line, the report equals the uninterrupted run's" \
  "$tmp/full/out/report.json" "$tmp/killed/out/report.json"

# A fresh run killed twice after a whole one: the whole run's outputs wait, set aside, until a
# run gets to its end.
mkdir -p "$tmp/twice"
cp -r "$tmp/full/out" "$tmp/twice/out"
run_and_kill "$tmp/twice"
run_and_kill "$tmp/twice"
[ -f "$tmp/twice/out/.maskeval-previous/report.json" ] &&
  [ -d "$tmp/twice/out/.maskeval-previous/cases" ] &&
  pass "killed twice: the last whole run's report and cases still set aside" ||
  fail "killed twice: the last whole run's outputs are gone"

# --resume refuses records of other settings, or written with another -o or from elsewhere.
(cd "$tmp/killed" && "$bin" "${args[@]}" --max-label 9 -o out --resume >refusal.txt 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "option 'max_label'" "$tmp/killed/refusal.txt" &&
  pass "--resume with another --max-label: exit 1, names it" ||
  fail "--resume with another --max-label: exit $rc: $(cat "$tmp/killed/refusal.txt")"
(cd "$tmp" && "$bin" "${args[@]}" -o killed/out --resume >refusal.txt 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "resume with the same -o from the same folder" "$tmp/refusal.txt" &&
  pass "--resume with the folder named otherwise: exit 1" ||
  fail "--resume from elsewhere: exit $rc: $(cat "$tmp/refusal.txt")"

# A gate's table from the run before does not outlive a resumed run without gates.
(cd "$tmp/full" && "$bin" "${args[@]}" -o out --fail-if 'failed_cases > 0' >/dev/null 2>&1)
(cd "$tmp/full" && "$bin" "${args[@]}" -o out --resume >/dev/null 2>&1)
[ ! -e "$tmp/full/out/gates.csv" ] && pass "--resume: no stale gates.csv" ||
  fail "--resume left the earlier run's gates.csv"

# (b) One recorded case's input changed: only it runs again, and the report shows the change.
victim="$data/r01-$(basename "$(ls -d "$src"/data/bu-bil/*/ | head -1)")"
first="$(ls "$victim"/experts/*.png | head -1)"
rm "$first" && cp "$(ls "$victim"/experts/*.png | tail -1)" "$first"
(cd "$tmp/killed" && "$bin" "${args[@]}" -o out --resume >resume2.txt 2>&1)
grep -q "resume: $((total - 1)) of $total cases kept" "$tmp/killed/resume2.txt" &&
  pass "changed input: $((total - 1)) kept, 1 run again" ||
  fail "changed input: $(grep resume "$tmp/killed/resume2.txt")"
(cd "$tmp/changed" && "$bin" "${args[@]}" -o out >log.txt 2>&1)
same_report "after the change, resumed equals a fresh run" "$tmp/changed/out/report.json" \
  "$tmp/killed/out/report.json"

# (c) Shards and merge against the fresh run of the changed data.
for i in 0 1 2; do
  mkdir -p "$tmp/shards"
  (cd "$tmp/shards" && "$bin" "${args[@]}" -o "s$i" --shard "$i/3" >"log$i.txt" 2>&1) ||
    fail "shard $i/3 exit $?"
done
n0=$(records "$tmp/shards/s0/records.jsonl")
n1=$(records "$tmp/shards/s1/records.jsonl")
n2=$(records "$tmp/shards/s2/records.jsonl")
[ $((n0 + n1 + n2)) = "$total" ] && [ "$n0" -gt 0 ] && [ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] &&
  pass "shards hold $n0 + $n1 + $n2 = $total cases" || fail "shards hold $n0 + $n1 + $n2 of $total"
mkdir -p "$tmp/merged"
(cd "$tmp/merged" && "$bin" merge -q -o out ../shards/s2 ../shards/s0 ../shards/s1 >log.txt 2>&1)
rc=$?
[ "$rc" = 0 ] && pass "merge: exit 0" || fail "merge: exit $rc ($(tail -1 "$tmp/merged/log.txt"))"
same_report "merged report equals the single run's" "$tmp/changed/out/report.json" \
  "$tmp/merged/out/report.json"
maps=$(jq -r '.cases[].agreement_map' "$tmp/merged/out/report.json" | head -3)
missing=0
for m in $maps; do [ -f "$tmp/merged/$m" ] || missing=1; done
[ -n "$maps" ] && [ "$missing" = 0 ] && pass "merged maps are in the merge's folder" ||
  fail "merged maps missing: $maps"

# (d) Refusals.
expect_refusal() {  # WHAT PATTERN ARGS...
  local what="$1" pattern="$2"
  shift 2
  (cd "$tmp/merged" && "$bin" merge -q -o bad "$@" >refusal.txt 2>&1)
  local rc=$?
  if [ "$rc" = 1 ] && grep -q "$pattern" "$tmp/merged/refusal.txt"; then
    pass "$what: exit 1, '$pattern'"
  else
    fail "$what: exit $rc: $(cat "$tmp/merged/refusal.txt")"
  fi
}
expect_refusal "missing shard" "shard 1/3 is missing" ../shards/s0 ../shards/s2
expect_refusal "doubled shard" "shard 0/3 is given twice" ../shards/s0 ../shards/s0 ../shards/s1
(cd "$tmp/shards" && "$bin" "${args[@]}" --empty nan -o other1 --shard 1/3 >/dev/null 2>&1)
expect_refusal "other options" "not a shard of the same run" ../shards/s0 ../shards/other1 ../shards/s2
cp -r "$tmp/shards/s1" "$tmp/shards/cut1"
grep -v '^{"end"' "$tmp/shards/s1/records.jsonl" >"$tmp/shards/cut1/records.jsonl"
expect_refusal "unfinished shard" "did not finish" ../shards/s0 ../shards/cut1 ../shards/s2
# A shard whose cases another shard has too (its header says shard 1, its cases are shard 0's).
cp -r "$tmp/shards/s0" "$tmp/shards/fake1"
sed '1s/"shard":{"index":0,/"shard":{"index":1,/' "$tmp/shards/s0/records.jsonl" \
  >"$tmp/shards/fake1/records.jsonl"
expect_refusal "a case in two shards" "is recorded twice" ../shards/s0 ../shards/fake1 ../shards/s2
(cd "$tmp/merged" && "$bin" merge -q -o ../shards/s1 ../shards/s0 ../shards/s1 ../shards/s2 \
  >refusal.txt 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "is one of the shards" "$tmp/merged/refusal.txt" &&
  pass "merge into one of the shards: exit 1" ||
  fail "merge into a shard: exit $rc: $(cat "$tmp/merged/refusal.txt")"
(cd "$tmp/killed" && "$bin" "${args[@]}" --empty nan -o out --resume >refusal.txt 2>&1)
rc=$?
[ "$rc" = 1 ] && grep -q "option 'empty'" "$tmp/killed/refusal.txt" &&
  pass "--resume with other options: exit 1, names 'empty'" ||
  fail "--resume with other options: exit $rc: $(cat "$tmp/killed/refusal.txt")"

# (e) Results read back case by case instead of held.
mkdir -p "$tmp/flat"
(cd "$tmp/flat" && "$bin" "${args[@]}" -o out --report-memory 0 >log.txt 2>&1) ||
  fail "--report-memory 0: exit $?"
same_report "--report-memory 0: the same report" "$tmp/changed/out/report.json" \
  "$tmp/flat/out/report.json"
for t in cases.csv pairs.csv summary.csv worklist.csv; do
  cmp -s "$tmp/changed/out/$t" "$tmp/flat/out/$t" && pass "--report-memory 0: $t identical" ||
    fail "--report-memory 0: $t differs"
done
# The page differs only where it shows the command line.
if diff <(grep -v -- '--report-memory' "$tmp/changed/out/report.html" | grep -v 'maskeval agree') \
  <(grep -v -- '--report-memory' "$tmp/flat/out/report.html" | grep -v 'maskeval agree') >/dev/null; then
  pass "--report-memory 0: report.html the same but for the command line"
else
  fail "--report-memory 0: report.html differs"
fi
mkdir -p "$tmp/merged-flat"
(cd "$tmp/merged-flat" && "$bin" merge -q -o out --report-memory 0 ../shards/s0 ../shards/s1 \
  ../shards/s2 >log.txt 2>&1)
same_report "merge with --report-memory 0 equals the single run's" \
  "$tmp/changed/out/report.json" "$tmp/merged-flat/out/report.json"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
