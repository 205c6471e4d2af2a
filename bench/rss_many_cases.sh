#!/usr/bin/env bash
# Max RSS and wall time of `agree` and `score` over N small cases (e.g. 1000 10000 100000), with
# the results held for the report (the default --report-memory) and read back from records.jsonl
# (--report-memory 0). The default holds them up to 512M (about 85,000 of these cases).
# Each case: 3 raters and a reference, 32 x 32 label maps with 3 labels (64 distinct cases,
# hard-linked N/64 times over), laid out as case folders, rater folders and a manifest, and
# against a first run with --baseline. RUNS picks the runs (default: agree-held agree-0
# score-held score-0 raters manifest baseline). Needs
# python3 (to write the 64 PNGs) and GNU time.
# Usage: bench/rss_many_cases.sh MASKEVAL N... ; prints a Markdown table row per run.
set -euo pipefail
bin="$1"
shift
work="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-rss.XXXXXX")"
trap 'rm -rf "$work"' EXIT
python3 - "$work/seed" <<'PY'
import os, struct, sys, zlib
root = sys.argv[1]
def png(path, w, h, px):
    raw = b"".join(b"\0" + bytes(px[y * w:(y + 1) * w]) for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for c in range(64):
    d = os.path.join(root, "c%02d" % c)
    os.makedirs(d)
    for r, name in enumerate(["a", "b", "c", "ref"]):
        px = []
        for y in range(32):
            for x in range(32):
                s = (c + 3 * r) % 7
                px.append(1 if 4 + s <= x < 20 + s and 6 <= y < 22 else (2 if x + y > 44 + (c % 5) else 0))
        png(os.path.join(d, name + ".png"), 32, 32, px)
PY
echo "| cases | command | results | max RSS (MiB) | wall (s) | MiB per 1000 cases more than the smallest run |"
echo "|---|---|---|---|---|---|"
runs=" ${RUNS:-agree-held agree-0 score-held score-0 raters manifest baseline} "
declare -A first
# measure N KEY COMMAND RESULTS ARGS...: one run of maskeval, its row of the table.
measure() {
  local n="$1" key="$2" what="$3" results="$4" kib secs mib n0 m0 per
  shift 4
  rm -rf "$work/out"
  /usr/bin/time -f "%M %e" -o "$work/time.txt" "$bin" "$@" -q --threads 2 -o "$work/out" >/dev/null
  read -r kib secs <"$work/time.txt"
  mib=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
  [ -z "${first[$key]:-}" ] && first[$key]="$n $mib"
  read -r n0 m0 <<<"${first[$key]}"
  per=$(awk -v m="$mib" -v m0="$m0" -v n="$n" -v n0="$n0" \
    'BEGIN { if (n == n0) print "-"; else printf "%.2f", (m - m0) / ((n - n0) / 1000) }')
  echo "| $n | $what | $results | $mib | $secs | $per |"
}
for n in "$@"; do
  data="$work/data-$n"
  mkdir -p "$data"
  for ((i = 0; i < n; i++)); do
    seed="$work/seed/c$(printf %02d $((i % 64)))"
    mkdir "$data/case$i"
    ln "$seed/a.png" "$seed/b.png" "$seed/c.png" "$seed/ref.png" "$data/case$i/"
  done
  cases=(--cases "$data" --raters '[abc].png' --reference ref.png)
  for cmd in agree score; do
    for mode in held 0; do
      [[ "$runs" == *" $cmd-$mode "* ]] || continue
      args=("${cases[@]}")
      [ "$cmd" = agree ] && args+=(--no-maps)
      [ "$cmd" = score ] && args+=(--no-distances)
      [ "$mode" = 0 ] && args+=(--report-memory 0)
      label=$([ "$mode" = 0 ] && echo "--report-memory 0" || echo "default")
      measure "$n" "$cmd-$mode" "$cmd" "$label" "$cmd" "${args[@]}"
    done
  done
  quiet=(--no-maps --report-memory 0)
  # The same cases as rater folders (a/, b/, c/ and ref/, a file per case in each).
  if [[ "$runs" == *" raters "* ]]; then
    rf="$work/rf-$n"
    mkdir -p "$rf/a" "$rf/b" "$rf/c" "$rf/ref"
    for ((i = 0; i < n; i++)); do
      for r in a b c ref; do ln "$data/case$i/$r.png" "$rf/$r/case$i.png"; done
    done
    measure "$n" raters "agree, rater folders" "--report-memory 0" agree --rater "$rf/a" \
      --rater "$rf/b" --rater "$rf/c" --reference "$rf/ref" "${quiet[@]}"
    rm -rf "$rf"
  fi
  # The same cases as a manifest, its rows of a case scattered (every case's rater a, then b...).
  if [[ "$runs" == *" manifest "* ]]; then
    {
      echo "case,rater,path,role"
      for r in a b c ref; do
        role=$([ "$r" = ref ] && echo reference || echo rater)
        for ((i = 0; i < n; i++)); do echo "case$i,$r,$data/case$i/$r.png,$role"; done
      done
    } >"$work/manifest.csv"
    measure "$n" manifest "agree, manifest" "--report-memory 0" agree \
      --manifest "$work/manifest.csv" "${quiet[@]}"
  fi
  # Against the report of a first run, kept aside.
  if [[ "$runs" == *" baseline "* ]]; then
    "$bin" agree "${cases[@]}" "${quiet[@]}" -q --threads 2 -o "$work/first" >/dev/null
    measure "$n" baseline "agree --baseline" "--report-memory 0" agree "${cases[@]}" \
      "${quiet[@]}" --baseline "$work/first/report.json"
    rm -rf "$work/first"
  fi
  rm -rf "$data"
done
